"""Runtime configuration: defaults from settings, validated partial updates."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.runtime_config import load_runtime_config, save_runtime_config
from store.settings import Settings

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
