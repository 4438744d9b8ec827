"""A restore's rows on SQLite go to the driver as plain tuples (store/backup/sqlite_rows.py);
the text they leave in the database is what SQLAlchemy's own binding would have stored,
for every table a backup holds."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import delete, insert, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.backup.parts import TABLE_PARTS
from store.backup.sqlite_rows import converters
from store.backup.table_dump import BoundTable, bind, upsert_rows
from tests.store.backup.sample_rows import sample_rows

Sessions = async_sessionmaker[AsyncSession]


async def _stored(session: AsyncSession, bound: BoundTable) -> list[tuple[Any, ...]]:
    """The table's values as SQLite holds them (no type conversion on the way out)."""
    names = ", ".join(f'"{name}"' for name in bound.column_names)
    order = ", ".join(f'"{name}"' for name in bound.spec.key)
    rows = await session.execute(text(f"SELECT {names} FROM {bound.spec.table} ORDER BY {order}"))  # noqa: S608
    return [tuple(row) for row in rows]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("part", TABLE_PARTS, ids=lambda part: part.name)
async def test_tuples_store_what_sqlalchemy_stores(sessions: Sessions, part: Any) -> None:
    async with sessions() as session, session.begin():
        bound = await bind(session, part.spec)
        assert isinstance(bound, BoundTable)
        connection = await session.connection()
        # Every table a backup holds takes the fast path (else this compares nothing).
        assert converters(bound.columns, connection.dialect) is not None
        rows = sample_rows(bound, 6)
        await upsert_rows(session, bound, rows)
        by_tuples = await _stored(session, bound)
        await session.execute(delete(bound.table))
        await session.execute(insert(bound.table), [bound.from_json(row) for row in rows])
        by_sqlalchemy = await _stored(session, bound)
    assert len(by_tuples) == 6
    assert by_tuples == by_sqlalchemy
