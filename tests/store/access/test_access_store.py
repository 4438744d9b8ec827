"""API keys, revoked tokens and user queries against real SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.access import api_keys, revoked_tokens, users
from store.access.users import Role
from store.models import RevokedToken

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
