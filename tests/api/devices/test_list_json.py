"""The device list's items as the database renders them (store/devices/list_json.py) are the
items the reference rendering makes (tests/api/devices/reference_items.py) and pydantic_core
encodes, for the same stored rows, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic_core import to_json
from sqlalchemy import Table, insert, null, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.devices.schemas import DeviceItem
from store.devices.inventory import ItemsPage, list_chunks, list_page
from store.models import Device
from tests.api.devices.reference_items import reference_item, reference_page

Sessions = async_sessionmaker[AsyncSession]

NOW = datetime(2026, 1, 15, 10, 30, 0, 500_000, tzinfo=UTC)
# Ages either side of each unit's edge, in the future, and to the microsecond.
SINCE = [
    NOW - timedelta(seconds=59, microseconds=999_999),
    NOW - timedelta(seconds=60),
    NOW - timedelta(minutes=59, seconds=59, microseconds=500_001),
    NOW - timedelta(hours=1),
    NOW - timedelta(hours=23, minutes=59, seconds=59, microseconds=999_999),
    NOW - timedelta(days=1),
    NOW - timedelta(days=400, microseconds=1),
    NOW + timedelta(seconds=5),
    NOW - timedelta(microseconds=500_000),
    NOW - timedelta(microseconds=500_001),
]
ADDRESSES = [{"type": "InternalIP", "address": "10.0.0.7", "extra": "dropped"}]
ROLES = ["agent", "edge"]


def _device(index: int) -> dict[str, Any]:
    since = SINCE[index % len(SINCE)]
    return {
        "device_id": f"cam-{index:03d}",
        "node_name": f"edge-{index:03d}",
        "node_id": f"00000000-0000-0000-0000-{index:012d}",
        "status": ["joined", "pending", "failed"][index % 3],
        "device_type": [None, "camera", 'a "quoted" é'][index % 3],
        "location": [None, "Site 1\nrack 2"][index % 2],
        "created_at": NOW - timedelta(days=index),
        "updated_at": NOW,
        "node_ready": [True, False, None][index % 3],
        # SQL NULL, JSON null (a None stored by SQLAlchemy's JSON), empty, some.
        "node_roles": [null(), None, [], ROLES][index % 4],
        "node_version": [None, "v1.29.5-kubeedge-v1.18.0"][index % 2],
        "node_addresses": [null(), None, [], ADDRESSES, ADDRESSES * 2][index % 5],
        "node_pods": [None, 0, 7][index % 3],
        "node_created_at": [since, None][index % 2 if index < len(SINCE) else 0],
        "node_synced_at": [
            None,
            NOW - timedelta(seconds=7, microseconds=250),
            NOW.replace(microsecond=0),
            NOW.replace(microsecond=120_000),
            NOW.replace(second=17, microsecond=0),  # a whole second, not a whole minute
        ][index % 5],
    }


async def _seed(sessions: Sessions, count: int) -> None:
    async with sessions() as session, session.begin():
        table = Device.__table__
        assert isinstance(table, Table)
        for index in range(count):
            await session.execute(insert(table), [_device(index)])


def _items(page: ItemsPage) -> list[Any]:
    items: list[Any] = json.loads(f"[{page.joined}]")
    return items


def _by_python(rows: Any) -> list[Any]:
    items: list[Any] = json.loads(to_json([reference_item(row, now=NOW) for row in rows]))
    return items


async def test_a_page_the_database_renders_is_the_page_python_renders(sessions: Sessions) -> None:
    await _seed(sessions, 40)
    async with sessions() as session:
        for offset, limit in ((0, 100), (5, 10), (39, 5), (40, 5)):
            page = await list_page(session, offset=offset, limit=limit, now=NOW)
            rows, python_total = await reference_page(session, offset=offset, limit=limit)
            assert page.total == python_total == 40
            items = _items(page)
            assert items == _by_python(rows)
            assert page.count == len(items) == min(limit, max(0, 40 - offset))
            for item in items:  # the schema's fields, in its order
                assert list(item) == list(DeviceItem.model_fields)
                DeviceItem.model_validate(item)


async def test_the_whole_list_in_chunks_is_the_same_page_by_page(sessions: Sessions) -> None:
    await _seed(sessions, 25)
    async with sessions() as session:
        chunks = [
            ([json.loads(item) for item in chunk], total)
            async for chunk, total in list_chunks(session, offset=0, limit=100, size=10, now=NOW)
        ]
        rows, _ = await reference_page(session, offset=0, limit=100)
        past_end = [c async for c in list_chunks(session, offset=25, limit=5, size=2, now=NOW)]
    assert [len(chunk) for chunk, _ in chunks] == [10, 10, 5]
    assert {total for _, total in chunks} == {25}
    assert [item for chunk, _ in chunks for item in chunk] == _by_python(rows)
    assert past_end == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_times_stored_without_a_fraction_render_alike(sessions: Sessions) -> None:
    # SQLite's CURRENT_TIMESTAMP writes no fraction; SQLAlchemy reads it all the same.
    await _seed(sessions, 3)
    async with sessions() as session, session.begin():
        await session.execute(
            text(
                "UPDATE devices SET node_synced_at = '2026-01-15 10:29:58', node_created_at = NULL"
            )
        )
    async with sessions() as session:
        page = await list_page(session, offset=0, limit=10, now=NOW)
        rows, _ = await reference_page(session, offset=0, limit=10)
    assert _items(page) == _by_python(rows)
    assert _items(page)[0]["observed_at"] == "2026-01-15T10:29:58Z"
