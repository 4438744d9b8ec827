"""Component health as last observed by the worker, read by the API's health endpoints."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import ComponentHealth, utcnow
from store.upsert import upsert

# The figure in the bridge's health row that says how far its store writes lag behind.
BRIDGE_LAG_FIGURE = "lag_seconds"


async def record_health(
    session: AsyncSession, *, name: str, status: str, mode: str | None, detail: str | None
) -> None:
    values = {
        "name": name,
        "status": status,
        "mode": mode,
        "detail": detail,
        "checked_at": utcnow(),
    }
    await upsert(
        session,
        model=ComponentHealth,
        values=values,
        key="name",
        update=["status", "mode", "detail", "checked_at"],
    )


async def read_health(session: AsyncSession) -> Sequence[ComponentHealth]:
    return (await session.scalars(select(ComponentHealth))).all()


def encode_figures(figures: dict[str, float | int | str]) -> str:
    """`name=value` pairs, the detail a process leaves for the API to read back (values
    without spaces; decode_figures keeps the numeric ones)."""
    return " ".join(f"{name}={value}" for name, value in figures.items())


def decode_figures(detail: str | None) -> dict[str, float]:
    """The numeric `name=value` pairs of a detail written by encode_figures."""
    figures: dict[str, float] = {}
    for pair in (detail or "").split():
        name, _, value = pair.partition("=")
        try:
            figures[name] = float(value)
        except ValueError:
            continue
    return figures
