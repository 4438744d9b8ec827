"""Rows a restore writes, on both databases: stored as SQLAlchemy stores them, and
journaled with images that read as the rows the store then holds."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Text, cast, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.backup import journal, written_rows
from store.backup.row_undo import undo_row
from store.backup.table_dump import BoundTable, bind, existing_rows, upsert_rows
from store.backup.written_rows import canonical, journal_written
from tests.store.backup.test_json_columns import DEVICES, archived

Sessions = async_sessionmaker[AsyncSession]


def _named(row: dict[str, Any], device_id: str) -> dict[str, Any]:
    """`row` as another device's (node names and IDs are unique too)."""
    named = archived(device_id)
    return {**row, **{name: named[name] for name in ("device_id", "node_name", "node_id")}}


async def _stored_text(session: AsyncSession, bound: BoundTable, device_id: str) -> list[Any]:
    """The row as the database holds it, each column as text, but for its names."""
    named = ("device_id", "node_name", "node_id")
    columns = [cast(c, Text) for c in bound.columns if c.name not in named]
    stmt = select(*columns).where(bound.table.c.device_id == device_id)
    return list((await session.execute(stmt)).one())


async def test_rows_are_stored_and_journaled_as_the_store_reads_them(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        bound = await bind(session, DEVICES)
        assert isinstance(bound, BoundTable)
        await upsert_rows(session, bound, [archived("300")])
        full = _named((await existing_rows(session, bound, [("300",)]))[("300",)], "301")
        # A row with every column, through upsert_rows and through SQLAlchemy's own
        # binding: stored as the same text.
        await upsert_rows(session, bound, [full])
        await session.execute(insert(bound.table), [bound.from_json(_named(full, "305"))])
        assert await _stored_text(session, bound, "305") == await _stored_text(
            session, bound, "301"
        )
    created = [
        _named(full, "302"),  # every column, as an export of this schema writes it
        # The same instant written in another zone, without microseconds.
        {**_named(full, "303"), "created_at": "2026-01-15T12:30:00+02:00"},
        archived("304"),  # an earlier schema's row: the store fills in the rest
    ]
    overwritten = {**full, "status": "failed", "presence_online": True}
    async with sessions() as session, session.begin():
        await upsert_rows(session, bound, [*created, overwritten])
        await journal_written(
            session,
            bound,
            restore_id="r-written",
            part="devices",
            created=[("302",), ("303",), ("304",)],
            overwritten=[(("301",), full)],
        )
    keys = [("301",), ("302",), ("303",), ("304",)]
    async with sessions() as session:
        stored = await existing_rows(session, bound, keys)
        entries = await journal.pending(session, restore_id="r-written", limit=10)
    assert stored[("303",)]["created_at"] == "2026-01-15T10:30:00+00:00"
    assert stored[("301",)]["presence_online"] is True
    images = {entry.key: canonical(bound, entry.after) for entry in entries}
    assert images == stored
    assert {entry.key: entry.before for entry in entries} == {
        ("301",): full,
        ("302",): None,
        ("303",): None,
        ("304",): None,
    }
    # Undone from those images: the overwritten row is as before, the created ones gone.
    async with sessions() as session, session.begin():
        outcomes = {entry.key: await undo_row(session, bound, entry) for entry in entries}
        left = await existing_rows(session, bound, keys)
    assert set(outcomes.values()) == {journal.Outcome.RESTORED}
    assert left == {("301",): full}


async def test_images_of_wide_tables_are_built_in_groups(
    sessions: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The database functions take at most about a hundred arguments: a table with more
    # columns than a group holds is built group by group.
    monkeypatch.setattr(written_rows, "_PAIRS", 4)
    async with sessions() as session, session.begin():
        bound = await bind(session, DEVICES)
        assert isinstance(bound, BoundTable)
        await upsert_rows(session, bound, [archived("401")])
        await journal_written(
            session, bound, restore_id="r-wide", part="devices", created=[("401",)], overwritten=[]
        )
    async with sessions() as session:
        stored = await existing_rows(session, bound, [("401",)])
        (entry,) = await journal.pending(session, restore_id="r-wide", limit=10)
    assert len(bound.columns) > 2 * written_rows._PAIRS
    assert canonical(bound, entry.after) == stored[("401",)]
