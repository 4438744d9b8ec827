"""The image a restore journals for a row it creates, worked out without reading the row
back, is the row as the store then holds it, on both databases."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.backup.stored_image import stored_as_archived, stored_image
from store.backup.table_dump import BoundTable, bind, existing_rows, upsert_rows
from tests.store.backup.test_json_columns import DEVICES, archived

Sessions = async_sessionmaker[AsyncSession]


def _named(row: dict[str, object], device_id: str) -> dict[str, object]:
    """`row` as another device's (node names and IDs are unique too)."""
    named = archived(device_id)
    return {**row, **{name: named[name] for name in ("device_id", "node_name", "node_id")}}


async def test_created_rows_are_journaled_as_stored(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        bound = await bind(session, DEVICES)
        assert isinstance(bound, BoundTable)
        await upsert_rows(session, bound, [archived("301")])
        # Every column, as an export of this schema writes it.
        full = (await existing_rows(session, bound, [("301",)]))[("301",)]
    as_exported = _named(full, "302")
    # The same instant written in another zone, without microseconds.
    elsewhere = {**_named(full, "303"), "created_at": "2026-01-15T12:30:00+02:00"}
    partial = archived("304")  # an earlier schema's row: the store fills in the rest
    assert stored_as_archived(bound, as_exported)
    assert not stored_as_archived(bound, elsewhere)
    assert stored_image(bound, partial) is None
    async with sessions() as session, session.begin():
        await upsert_rows(session, bound, [as_exported, elsewhere])
        stored = await existing_rows(session, bound, [("302",), ("303",)])
    assert stored[("302",)] == as_exported
    assert stored[("303",)] == stored_image(bound, elsewhere)
    assert stored[("303",)]["created_at"] == "2026-01-15T10:30:00+00:00"
