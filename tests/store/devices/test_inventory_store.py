"""Inventory repositories on SQLite and PostgreSQL, and migration 0004 over existing rows."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.db import create_engine, session_factory
from store.devices import inventory as devices
from store.devices import node_facts, nodes, tokens
from store.migrate import alembic_config, upgrade_async
from store.models import utcnow
from tests.support.store_fixtures import fresh_postgres_url

Sessions = async_sessionmaker[AsyncSession]


async def five_devices(sessions: Sessions) -> None:
    """dev-0 .. dev-4 on node-0 .. node-4, joined."""
    async with sessions() as session, session.begin():
        for i in range(5):
            await devices.upsert_device(
                session, device_id=f"dev-{i}", node_name=f"node-{i}", status="joined"
            )


async def test_token_status_filters_and_revocation(sessions: Sessions) -> None:
    now = utcnow()
    async with sessions() as session, session.begin():
        for token_id, node, hours in (
            ("a1", "n1", 1),
            ("a2", "n1", 2),
            ("e1", "n1", -1),
            ("u1", "n2", 1),
            ("r1", "n2", 1),
        ):
            await tokens.record_token(
                session,
                token_id=token_id,
                token=f"secret-{token_id}",
                node_name=node,
                device_id=None,
                expires_at=now + timedelta(hours=hours),
            )
        await tokens.mark_used(session, token_id="u1")
        await tokens.revoke_token(session, token_id="r1")

    async def ids(status: tokens.TokenStatus | None, node: str | None = None) -> set[str]:
        async with sessions() as session:
            rows, total = await tokens.list_tokens(
                session, offset=0, limit=100, now=now, status=status, node_name=node
            )
        assert total == len(rows)
        assert all(status is None or tokens.token_status(r, now=now) == status for r in rows)
        return {row.token_id for row in rows}

    assert await ids(tokens.TokenStatus.ACTIVE) == {"a1", "a2"}
    assert await ids(tokens.TokenStatus.EXPIRED) == {"e1"}
    assert await ids(tokens.TokenStatus.USED) == {"u1"}
    assert await ids(tokens.TokenStatus.REVOKED) == {"r1"}
    assert await ids(None, "n2") == {"u1", "r1"}

    async with sessions() as session, session.begin():
        assert await tokens.revoke_active(session, now=now, node_name="n1") == 2
    async with sessions() as session, session.begin():
        assert await tokens.revoke_active(session, now=now, node_name="n1") == 0
    assert await ids(tokens.TokenStatus.ACTIVE) == set()


async def test_page_and_total(sessions: Sessions) -> None:
    await five_devices(sessions)
    async with sessions() as session:
        rows, total = await devices.list_summaries(session, offset=3, limit=2)
    assert total == 5
    assert [r.device_id for r in rows] == ["dev-3", "dev-4"]
    assert len({r.node_id for r in rows}) == 2  # every row got its own opaque id
    async with sessions() as session:
        # Past the end the total still comes (the page query had no row to carry it).
        assert await devices.list_summaries(session, offset=5, limit=2) == ([], 5)


async def test_device_list_page_and_total(sessions: Sessions) -> None:
    await five_devices(sessions)
    now = utcnow()
    async with sessions() as session:
        page = await devices.list_page(session, offset=3, limit=2, now=now)
        past_end = await devices.list_page(session, offset=5, limit=2, now=now)
    assert (page.count, page.total) == (2, 5)
    assert [item["device_id"] for item in json.loads(f"[{page.joined}]")] == ["dev-3", "dev-4"]
    # Past the end the total still comes (SQLite's page query had no row to carry it).
    assert past_end == devices.ItemsPage(joined="", count=0, total=5)


async def test_device_list_in_chunks_each_with_the_total(sessions: Sessions) -> None:
    await five_devices(sessions)
    now = utcnow()
    async with sessions() as session:
        got = [
            ([json.loads(item)["device_id"] for item in chunk], total)
            async for chunk, total in devices.list_chunks(
                session, offset=1, limit=4, size=2, now=now
            )
        ]
        past_end = [
            c async for c in devices.list_chunks(session, offset=5, limit=2, size=2, now=now)
        ]
    assert got == [(["dev-1", "dev-2"], 5), (["dev-3", "dev-4"], 5)]
    assert past_end == []


async def test_node_facts_overwrite_and_forget(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        await nodes.register_node(
            session,
            device_id="edge-node-1",
            node_name="edge-node-1",
            address="192.168.1.100",
            capabilities=["compute"],
            resources={"cpu": "4"},
            labels={"location": "datacenter-1"},
        )
    first = utcnow()
    fact = node_facts.NodeFacts(
        node_name="edge-node-1", ready=True, roles=["edge"], version="v1", pods=2
    )
    async with sessions() as session, session.begin():
        await node_facts.apply_node_facts(session, facts=[fact], observed_at=first)
        assert await node_facts.count_seen(session, observed_at=first) == 1
        assert await node_facts.forget_unseen(session, observed_at=first) == 0
    async with sessions() as session:
        row = await devices.get_device(session, device_id="edge-node-1")
    assert row is not None
    assert (row.node_ready, row.node_roles, row.node_pods) == (True, ["edge"], 2)
    assert row.node_created_at == first  # no creationTimestamp: first seen

    later = first + timedelta(seconds=30)
    async with sessions() as session, session.begin():
        assert await node_facts.forget_unseen(session, observed_at=later) == 1
    async with sessions() as session:
        row = await devices.get_device(session, device_id="edge-node-1")
    assert row is not None
    assert (row.node_ready, row.node_roles, row.node_pods) == (None, None, None)
    assert row.address == "192.168.1.100"  # what was registered stays


@pytest.fixture(params=["sqlite", "postgresql"])
async def url_at_0002(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    else:
        url = await fresh_postgres_url(request.getfixturevalue("postgres_dsn"))
    await asyncio.to_thread(command.upgrade, alembic_config(url), "0002_runtime_config")
    return url


async def test_migration_gives_existing_devices_an_id(url_at_0002: str) -> None:
    engine = create_engine(url_at_0002)
    try:
        async with engine.begin() as connection:
            for i in range(3):
                await connection.execute(
                    text(
                        "INSERT INTO devices (device_id, node_name, status, configuration, "
                        "created_at, updated_at) VALUES (:d, :n, 'joined', '{}', :t, :t)"
                    ),
                    {"d": f"old-{i}", "n": f"old-node-{i}", "t": utcnow()},
                )
        await upgrade_async(url_at_0002)
        async with session_factory(engine)() as session:
            rows, total = await devices.list_summaries(session, offset=0, limit=10)
        assert total == 3
        assert len({row.node_id for row in rows}) == 3
        assert all(len(row.node_id) == 36 for row in rows)
    finally:
        await engine.dispose()
