"""API keys, revoked tokens and user queries against real SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.access import api_keys, revoked_tokens, users
from store.access.users import Role
from store.db import create_engine, session_factory
from store.migrate import alembic_config, upgrade_async
from store.models import RevokedToken, User, utcnow
from tests.support.store_fixtures import fresh_postgres_url

Sessions = async_sessionmaker[AsyncSession]


async def test_api_keys_are_found_by_secret_only(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        minted = await api_keys.create_api_key(
            session, name="ci", role=Role.OPERATOR, created_by="admin", expires_at=None
        )
    secret = minted.secret
    assert minted.row.key_hash == hashlib.sha256(secret.encode()).hexdigest()

    async with sessions() as session, session.begin():
        found = await api_keys.find_api_key(session, secret=secret)
        assert found is not None
        assert found.role == "operator"
        assert api_keys.key_status(found) is api_keys.ApiKeyStatus.ACTIVE
        assert await api_keys.find_api_key(session, secret=secret[:-1] + "_") is None
        assert await api_keys.find_api_key(session, secret=minted.row.key_id) is None
        by_id = await api_keys.get_api_key(session, ref=str(found.id))
        by_key_id = await api_keys.get_api_key(session, ref=found.key_id)
        assert by_id is by_key_id is found
        assert api_keys.revoke_api_key(found)
        assert not api_keys.revoke_api_key(found)

    async with sessions() as session:
        rows, total = await api_keys.list_api_keys(session, offset=0, limit=10)
    assert total == 1
    assert api_keys.key_status(rows[0]) is api_keys.ApiKeyStatus.REVOKED


async def test_revoked_tokens_are_idempotent_and_pruned(sessions: Sessions) -> None:
    now = datetime.now(UTC)
    async with sessions() as session, session.begin():
        session.add(RevokedToken(jti="old", expires_at=now - timedelta(hours=1)))
    async with sessions() as session, session.begin():
        await revoked_tokens.revoke_token(session, jti="a", expires_at=now + timedelta(hours=1))
        await revoked_tokens.revoke_token(session, jti="a", expires_at=now + timedelta(hours=1))
    async with sessions() as session:
        assert await revoked_tokens.is_token_revoked(session, jti="a")
        assert not await revoked_tokens.is_token_revoked(session, jti="b")
        # Revoking "a" pruned the row of a token that has expired anyway.
        assert set(await session.scalars(select(RevokedToken.jti))) == {"a"}


async def test_a_deleted_users_id_and_uid_are_never_reused(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        first = await users.create_user(session, username="a", password="x" * 12, role=Role.ADMIN)
        first_id, first_uid = first.id, first.uid
    async with sessions() as session, session.begin():
        found = await users.get_user_by_uid(session, uid=first_uid)
        assert found is not None
        assert found.id == first_id
        await users.delete_user(session, user=found)
    async with sessions() as session, session.begin():
        later = await users.create_user(session, username="a", password="x" * 12, role=Role.VIEWER)
        assert later.id != first_id
        assert later.uid != first_uid
        assert await users.get_user_by_uid(session, uid=first_uid) is None


async def test_user_queries(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        for name, role in [("Alice", Role.ADMIN), ("bob", Role.ADMIN), ("carol", Role.VIEWER)]:
            await users.create_user(session, username=name, password="x" * 12, role=role)
    async with sessions() as session, session.begin():
        found = await users.find_user_by_name(session, username="alice")
        assert found is not None
        assert found.username == "Alice"
        assert await users.count_active_admins(session) == 2
        found.disabled = True
        await session.flush()
        assert await users.count_active_admins(session) == 1
        page, total = await users.list_users(session, offset=1, limit=1)
        assert total == 3
        assert [user.username for user in page] == ["bob"]
        await users.delete_user(session, user=page[0])
        assert await users.count_users(session) == 2


@pytest.fixture(params=["sqlite", "postgresql"])
async def url_at_0003(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    else:
        url = await fresh_postgres_url(request.getfixturevalue("postgres_dsn"))
    await asyncio.to_thread(command.upgrade, alembic_config(url), "0003_access")
    return url


async def test_migration_gives_existing_users_a_uid_and_stops_reusing_ids(
    url_at_0003: str,
) -> None:
    engine = create_engine(url_at_0003)
    try:
        async with engine.begin() as connection:
            for name in ("old-a", "old-b", "old-c"):
                await connection.execute(
                    text(
                        "INSERT INTO users (username, password_hash, role, disabled, created_at) "
                        "VALUES (:u, 'x', 'viewer', false, :t)"
                    ),
                    {"u": name, "t": utcnow()},
                )
        await upgrade_async(url_at_0003)
        async with session_factory(engine)() as session, session.begin():
            rows = list(await session.scalars(select(User).order_by(User.id)))
            assert [row.username for row in rows] == ["old-a", "old-b", "old-c"]
            assert len({row.uid for row in rows}) == 3
            newest_id = rows[-1].id
            await users.delete_user(session, user=rows[-1])
        async with session_factory(engine)() as session, session.begin():
            later = await users.create_user(
                session, username="new", password="x" * 12, role=Role.VIEWER
            )
            assert later.id > newest_id
    finally:
        await engine.dispose()
