"""JSON columns copied as the database's text, on both databases: into an archive line and
into a restore's journal, they read back as the documents that are stored."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from sqlalchemy import Text, cast, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.backup import journal
from store.backup.json_text import spliced
from store.backup.table_dump import (
    BoundTable,
    TableSpec,
    bind,
    existing_rows,
    export_rows,
    upsert_rows,
)
from store.backup.written_rows import canonical, journal_written
from store.models import RestoreJournalRow

Sessions = async_sessionmaker[AsyncSession]
T1 = datetime(2026, 1, 15, 10, 30, tzinfo=UTC)
DEVICES = TableSpec(table="devices", key=("device_id",))
# Nesting, unicode, escapes, numbers and an empty document: what JSON text can hold.
DOCUMENTS = {
    "configuration": {"fps": 15, "ratio": 1.5, "night": True, "note": 'a "b"\nc é', "x": None},
    "labels": {"zone": "north", "nested": {"deep": [1, 2, {"k": "v"}]}},
    "capabilities": ["camera", "gpu"],
    "resources": {},
    "node_addresses": [{"type": "InternalIP", "address": "10.0.0.7"}],
}


def archived(device_id: str) -> dict[str, object]:
    """A row as an archive holds it: JSON-ready, documents decoded."""
    return {
        "device_id": device_id,
        "node_name": f"node-{device_id}",
        "node_id": f"00000000-0000-0000-0000-{device_id.rjust(12, '0')}",
        "status": "joined",
        "presence_online": False,
        "created_at": T1.isoformat(),
        "updated_at": T1.isoformat(),
        "usage": None,
        **DOCUMENTS,
    }


async def test_export_lines_hold_the_stored_documents(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        bound = await bind(session, DEVICES)
        assert isinstance(bound, BoundTable)
        assert set(DOCUMENTS) <= set(bound.json_columns)
        await upsert_rows(session, bound, [archived("101"), archived("102")])
    async with sessions() as session:
        stored = await existing_rows(session, bound, [("101",), ("102",)])
        lines = []
        async for batch in export_rows(session, bound):
            lines += [spliced(bound.to_json(row), bound.json_columns) for row in batch]
    assert all("\n" not in line for line in lines)
    decoded = {row["device_id"]: row for row in map(json.loads, lines)}
    assert decoded == {key[0]: row for key, row in stored.items()}
    assert decoded["101"]["labels"] == DOCUMENTS["labels"]
    assert decoded["101"]["usage"] is None


async def test_journal_images_hold_the_documents_as_written(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        bound = await bind(session, DEVICES)
        assert isinstance(bound, BoundTable)
        await upsert_rows(session, bound, [archived("201")])
        await journal_written(
            session, bound, restore_id="r-json", part="devices", created=[("201",)], overwritten=[]
        )
        # A deletion's entry, journaled from Python (on SQLite below SQLAlchemy).
        gone = journal.Change(part="devices", key=("202",), before=archived("202"), after=None)
        await journal.append(session, restore_id="r-json", changes=[gone])
    async with sessions() as session:
        current = (await existing_rows(session, bound, [("201",)]))[("201",)]
        _, entry = await journal.pending(session, restore_id="r-json", limit=10)
        stamps = list(
            await session.scalars(
                select(cast(RestoreJournalRow.created_at, Text)).where(
                    RestoreJournalRow.restore_id == "r-json"
                )
            )
        )
        dialect = session.get_bind().dialect.name
    if dialect == "sqlite":  # stored as SQLAlchemy stores it
        for stamp in stamps:
            assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", str(stamp))
    assert entry.after is not None
    assert {name: entry.after[name] for name in DOCUMENTS} == DOCUMENTS
    assert canonical(bound, entry.after) == current
    assert entry.key == ("201",)
    assert entry.before is None
