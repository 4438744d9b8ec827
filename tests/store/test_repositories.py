"""Repositories against real SQLite and PostgreSQL databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store import health
from store.access import users
from store.access.users import Role
from store.devices import inventory as devices
from store.devices import tokens

Sessions = async_sessionmaker[AsyncSession]
LATER = datetime.now(UTC) + timedelta(hours=1)


async def test_device_upsert_is_idempotent_and_updates(sessions: Sessions) -> None:
    for location in ("Entrance", "Exit"):
        async with sessions() as session, session.begin():
            await devices.upsert_device(
                session,
                device_id="camera-001",
                node_name="edge-node-001",
                status="waiting_for_node",
                location=location,
                configuration={"runtime": "containerd"},
            )
    async with sessions() as session:
        device = await devices.get_device(session, device_id="camera-001")
        assert device is not None
        assert device.location == "Exit"
        assert device.configuration == {"runtime": "containerd"}
        assert device.created_at.tzinfo is not None
        assert await devices.node_owner(session, node_name="edge-node-001") == "camera-001"
        assert len(await devices.list_devices(session, offset=0, limit=10)) == 1


async def test_node_belongs_to_one_device(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        await devices.upsert_device(session, device_id="a", node_name="n1", status="joined")
    with pytest.raises(IntegrityError):
        async with sessions() as session, session.begin():
            await devices.upsert_device(session, device_id="b", node_name="n1", status="joined")


async def test_device_status_and_delete(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        await devices.upsert_device(session, device_id="a", node_name="n1", status="waiting")
    async with sessions() as session, session.begin():
        assert await devices.set_status(
            session, device_id="a", status="joined", joined_at=datetime.now(UTC)
        )
        assert not await devices.set_status(session, device_id="missing", status="joined")
    async with sessions() as session, session.begin():
        assert await devices.delete_device(session, device_id="a")
        assert not await devices.delete_device(session, device_id="a")


async def test_tokens_are_stored_hashed_and_idempotent(sessions: Sessions) -> None:
    for _ in range(2):
        async with sessions() as session, session.begin():
            await tokens.record_token(
                session,
                token_id="t1",
                token="abc.def.ghi",
                node_name="n1",
                device_id="d1",
                expires_at=LATER,
            )
    async with sessions() as session, session.begin():
        row = await tokens.get_token(session, token_id="t1")
        assert row is not None
        assert row.token_hash == tokens.token_hash("abc.def.ghi") != "abc.def.ghi"
        assert (await tokens.find_by_token(session, token="abc.def.ghi")) is not None
        assert await tokens.mark_used(session, token_id="t1")
        assert not await tokens.mark_used(session, token_id="t1")
        assert await tokens.revoke_token(session, token_id="t1")
        assert not await tokens.revoke_token(session, token_id="t1")


async def test_users_authenticate_with_hashed_passwords(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        user = await users.create_user(
            session, username="ops", password="correct horse battery", role=Role.OPERATOR
        )
        assert user.password_hash.startswith("$argon2")
    async with sessions() as session, session.begin():
        assert await users.authenticate(session, username="ops", password="correct horse battery")
        assert await users.authenticate(session, username="ops", password="wrong") is None
        assert await users.authenticate(session, username="nobody", password="x") is None
        assert await users.count_users(session) == 1


def test_role_ranking() -> None:
    assert Role.ADMIN.allows(Role.OPERATOR)
    assert Role.OPERATOR.allows(Role.VIEWER)
    assert not Role.VIEWER.allows(Role.OPERATOR)


async def test_component_health_upsert(sessions: Sessions) -> None:
    for status in ("connected", "disconnected"):
        async with sessions() as session, session.begin():
            await health.record_health(
                session, name="kubernetes", status=status, mode="sandbox", detail=None
            )
    async with sessions() as session:
        rows = await health.read_health(session)
        assert [(r.name, r.status, r.mode) for r in rows] == [
            ("kubernetes", "disconnected", "sandbox")
        ]
