"""Archive lines written by SQLite (store/backup/sqlite_lines.py) decode to exactly what the
Python path writes for the same rows, for every table a backup holds."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import JSON, Column, Integer, LargeBinary, String, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.backup.parts import TABLE_PARTS
from store.backup.json_text import spliced
from store.backup.sqlite_lines import line_of
from store.backup.table_dump import BoundTable, archive_line, bind, export_rows, upsert_rows
from store.models import UTCDateTime
from tests.store.backup.sample_rows import WITH_FRACTION, sample_rows

Sessions = async_sessionmaker[AsyncSession]
ON_SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def _lines(session: AsyncSession, bound: BoundTable, *, by_database: bool) -> list[str]:
    line = archive_line(session, bound) if by_database else None
    assert (line is not None) == by_database
    found: list[str] = []
    async for batch in export_rows(session, bound, line=line):
        if by_database:
            found += [row[0] for row in batch]
        else:
            found += [spliced(bound.to_json(row), bound.json_columns) for row in batch]
    return found


@ON_SQLITE
@pytest.mark.parametrize("part", TABLE_PARTS, ids=lambda part: part.name)
async def test_lines_by_sqlite_decode_as_the_python_ones(sessions: Sessions, part: Any) -> None:
    async with sessions() as session, session.begin():
        bound = await bind(session, part.spec)
        assert isinstance(bound, BoundTable)
        await upsert_rows(session, bound, sample_rows(bound, 6))
    async with sessions() as session:
        by_sqlite = await _lines(session, bound, by_database=True)
        by_python = await _lines(session, bound, by_database=False)
    assert len(by_sqlite) == 6
    assert [json.loads(line) for line in by_sqlite] == [json.loads(line) for line in by_python]
    assert all("\n" not in line for line in by_sqlite)


@ON_SQLITE
async def test_datetimes_stored_without_a_fraction_read_as_python_writes_them(
    sessions: Sessions,
) -> None:
    # SQLite's CURRENT_TIMESTAMP writes "YYYY-MM-DD HH:MM:SS"; SQLAlchemy reads it too.
    spec = next(part.spec for part in TABLE_PARTS if part.spec.table == "runtime_config")
    async with sessions() as session, session.begin():
        bound = await bind(session, spec)
        assert isinstance(bound, BoundTable)
        row = {"key": "k", "value": {}, "updated_at": WITH_FRACTION.isoformat()}
        await upsert_rows(session, bound, [row])
        await session.execute(text("UPDATE runtime_config SET updated_at = CURRENT_TIMESTAMP"))
    async with sessions() as session:
        by_sqlite = await _lines(session, bound, by_database=True)
        by_python = await _lines(session, bound, by_database=False)
    assert json.loads(by_sqlite[0]) == json.loads(by_python[0])
    assert datetime.fromisoformat(json.loads(by_sqlite[0])["updated_at"]).tzinfo == UTC


def test_a_column_type_it_cannot_render_leaves_the_table_to_python() -> None:
    columns = [Column("a", String), Column("b", JSON), Column("c", UTCDateTime)]
    assert line_of(columns) is not None
    assert line_of([*columns, Column("d", LargeBinary)]) is None
    assert line_of([Column(f"c{i}", Integer) for i in range(64)]) is None
