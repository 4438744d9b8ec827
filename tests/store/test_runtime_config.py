"""Runtime configuration: defaults from settings, validated partial updates."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.models import RuntimeConfigRow, utcnow
from store.runtime_config import load_runtime_config, save_runtime_config
from store.settings import MAX_RATE_LIMIT_PER_MINUTE, MIN_RATE_LIMIT_PER_MINUTE, Settings
from store.upsert import upsert

Sessions = async_sessionmaker[AsyncSession]


async def test_defaults_then_partial_update(sessions: Sessions) -> None:
    settings = Settings(join_token_ttl_hours=12, rate_limit_per_minute=50)
    async with sessions() as session:
        config = await load_runtime_config(session, settings=settings)
    assert (config.token_expiry_hours, config.rate_limit_per_minute) == (12, 50)

    async with sessions() as session, session.begin():
        await save_runtime_config(session, changes={"token_expiry_hours": 96}, settings=settings)
    async with sessions() as session, session.begin():
        saved = await save_runtime_config(session, changes={"max_devices": 100}, settings=settings)
    assert (saved.token_expiry_hours, saved.max_devices, saved.rate_limit_per_minute) == (
        96,
        100,
        50,
    )


async def test_invalid_change_writes_nothing(sessions: Sessions) -> None:
    settings = Settings()
    with pytest.raises(ValidationError):
        async with sessions() as session, session.begin():
            await save_runtime_config(
                session, changes={"token_expiry_hours": -1}, settings=settings
            )
    async with sessions() as session:
        config = await load_runtime_config(session, settings=settings)
    assert config.token_expiry_hours == settings.join_token_ttl_hours


async def test_a_rate_limit_below_the_floor_is_refused_and_a_stored_one_raised(
    sessions: Sessions,
) -> None:
    settings = Settings()
    with pytest.raises(ValidationError):
        async with sessions() as session, session.begin():
            await save_runtime_config(
                session, changes={"rate_limit_per_minute": 2}, settings=settings
            )
    # A value saved before the floor existed must not keep everyone locked out.
    async with sessions() as session, session.begin():
        await upsert(
            session,
            model=RuntimeConfigRow,
            values={
                "key": "runtime",
                "value": {"rate_limit_per_minute": 2},
                "updated_at": utcnow(),
            },
            key="key",
            update=["value"],
        )
    async with sessions() as session:
        config = await load_runtime_config(session, settings=settings)
    assert config.rate_limit_per_minute == MIN_RATE_LIMIT_PER_MINUTE == 10
    with pytest.raises(ValidationError):
        Settings(rate_limit_per_minute=5)


async def test_a_rate_limit_setting_above_the_runtime_ceiling_is_refused_at_start(
    sessions: Sessions,
) -> None:
    # Accepted, it would become the runtime default and fail every counted request.
    with pytest.raises(ValidationError):
        Settings(rate_limit_per_minute=MAX_RATE_LIMIT_PER_MINUTE + 1)
    settings = Settings(rate_limit_per_minute=MAX_RATE_LIMIT_PER_MINUTE)
    async with sessions() as session:
        config = await load_runtime_config(session, settings=settings)
    assert config.rate_limit_per_minute == MAX_RATE_LIMIT_PER_MINUTE
