"""The first admin: a configured password passes the same policy as any other."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.access.users import count_users
from store.bootstrap import BootstrapError, ensure_first_admin
from store.models import User
from store.settings import Settings

Sessions = async_sessionmaker[AsyncSession]


def settings_for(database_url: str, tmp_path: Path, **values: object) -> Settings:
    return Settings.model_validate({"data_dir": tmp_path, "database_url": database_url, **values})


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("short-one", "at least 12 characters"),
        ("aaaaaaaaaaaaaaaa", "different characters"),
        ("password1234", "commonly used"),
        ("root-admin-2026!", "must not contain the username"),
    ],
)
async def test_a_weak_admin_password_is_refused_and_nothing_is_created(
    database_url: str, sessions: Sessions, tmp_path: Path, password: str, rule: str
) -> None:
    settings = settings_for(database_url, tmp_path, admin_password=password)

    with pytest.raises(BootstrapError) as refused:
        await ensure_first_admin(settings)

    message = str(refused.value)
    assert message.startswith("EDGEWRIGHT_ADMIN_PASSWORD")
    assert rule in message
    assert password not in message
    async with sessions() as session:
        assert await count_users(session) == 0


async def test_an_invalid_admin_username_is_refused(
    database_url: str, sessions: Sessions, tmp_path: Path
) -> None:
    settings = settings_for(
        database_url, tmp_path, admin_username="admin\n", admin_password="correct horse battery"
    )
    with pytest.raises(BootstrapError, match="EDGEWRIGHT_ADMIN_USERNAME"):
        await ensure_first_admin(settings)
    async with sessions() as session:
        assert await count_users(session) == 0


async def test_a_good_or_generated_password_makes_the_admin(
    database_url: str, sessions: Sessions, tmp_path: Path
) -> None:
    given = settings_for(database_url, tmp_path, admin_password="correct horse battery")
    assert await ensure_first_admin(given) is None
    async with sessions() as session:
        assert await session.scalar(select(User.username)) == "admin"
    # Users exist now: nothing is checked or created again.
    assert await ensure_first_admin(settings_for(database_url, tmp_path)) is None


async def test_a_generated_password_passes_the_policy(database_url: str, tmp_path: Path) -> None:
    generated = await ensure_first_admin(settings_for(database_url, tmp_path))
    assert generated is not None
    assert len(generated) >= 12
