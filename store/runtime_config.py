"""Configuration operators change at run time (`PUT /api/kubeedge/config`).

Kept in the store so every API replica and worker sees one value and a change takes
effect without a restart. Environment settings give the defaults until a value is set.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import RuntimeConfigRow, utcnow
from store.settings import MAX_RATE_LIMIT_PER_MINUTE, MIN_RATE_LIMIT_PER_MINUTE, Settings
from store.upsert import upsert

_KEY = "runtime"


class RuntimeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    token_expiry_hours: float = Field(gt=0, le=24 * 30)
    max_devices: int | None = Field(default=None, ge=1, description="None: no limit")
    rate_limit_per_minute: int = Field(ge=MIN_RATE_LIMIT_PER_MINUTE, le=MAX_RATE_LIMIT_PER_MINUTE)
    require_tls: bool = False


def defaults(settings: Settings) -> RuntimeConfig:
    return RuntimeConfig(
        token_expiry_hours=settings.join_token_ttl_hours,
        rate_limit_per_minute=settings.rate_limit_per_minute,
    )


async def load_runtime_config(session: AsyncSession, *, settings: Settings) -> RuntimeConfig:
    stored = await session.scalar(
        select(RuntimeConfigRow.value).where(RuntimeConfigRow.key == _KEY)
    )
    base = defaults(settings).model_dump()
    values = {**base, **(stored or {})}
    # Saved before the floor existed: raised to it, rather than locking everyone out or
    # failing every request on a value this version refuses.
    limit = values.get("rate_limit_per_minute")
    if isinstance(limit, int) and limit < MIN_RATE_LIMIT_PER_MINUTE:
        values["rate_limit_per_minute"] = MIN_RATE_LIMIT_PER_MINUTE
    return RuntimeConfig.model_validate(values)


async def save_runtime_config(
    session: AsyncSession, *, changes: dict[str, Any], settings: Settings
) -> RuntimeConfig:
    """Validate the merged result first, so a bad change writes nothing."""
    current = await load_runtime_config(session, settings=settings)
    merged = RuntimeConfig.model_validate({**current.model_dump(), **changes})
    await upsert(
        session,
        model=RuntimeConfigRow,
        values={"key": _KEY, "value": merged.model_dump(), "updated_at": utcnow()},
        key="key",
        update=["value", "updated_at"],
    )
    return merged
