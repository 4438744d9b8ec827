"""Component health as last observed by the worker, read by the API's health endpoints."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import ComponentHealth, utcnow
from store.upsert import upsert


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
