"""The SQLite adapter that runs a statement in one trip to its thread (store.sqlite_driver):
what SQLAlchemy reads back from a cursor, and transactions, as with the stock adapter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from store import sqlite_driver
from store.db import create_engine


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    async with engine.begin() as connection:
        await connection.execute(
            text("CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE)")
        )
    yield engine
    await engine.dispose()


async def test_the_engine_uses_the_adapter(engine: AsyncEngine) -> None:
    assert engine.dialect.dbapi is sqlite_driver.DBAPI


async def test_rows_counts_and_ids_come_back(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        many = await connection.execute(
            text("INSERT INTO t (name) VALUES (:name)"), [{"name": "a"}, {"name": "b"}]
        )
        assert many.rowcount == 2
        one = await connection.execute(text("INSERT INTO t (name) VALUES ('c')"))
        assert one.lastrowid == 3
        returned = await connection.execute(
            text("INSERT INTO t (name) VALUES ('d') RETURNING id, name")
        )
        assert returned.all() == [(4, "d")]
        updated = await connection.execute(text("UPDATE t SET name = name || '!' WHERE id < 3"))
        assert updated.rowcount == 2
    async with engine.connect() as connection:
        rows = await connection.execute(text("SELECT id, name FROM t ORDER BY id"))
        assert list(rows.keys()) == ["id", "name"]
        assert rows.all() == [(1, "a!"), (2, "b!"), (3, "c"), (4, "d")]
        streamed = await connection.stream(text("SELECT name FROM t ORDER BY id"))
        assert [row async for row in streamed.scalars()] == ["a!", "b!", "c", "d"]


async def test_writes_commit_or_roll_back_and_errors_stay_driver_errors(
    engine: AsyncEngine,
) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("INSERT INTO t (name) VALUES ('kept')"))
        await connection.commit()
        await connection.execute(text("INSERT INTO t (name) VALUES ('undone')"))
        await connection.rollback()
        # An explicit BEGIN (a snapshot for a backup) is a transaction too.
        await connection.exec_driver_sql("BEGIN")
        await connection.execute(text("INSERT INTO t (name) VALUES ('undone too')"))
        await connection.rollback()
        with pytest.raises(IntegrityError, match="UNIQUE constraint failed"):
            await connection.execute(text("INSERT INTO t (name) VALUES ('kept')"))
        await connection.rollback()
    async with engine.connect() as connection:
        names = (await connection.execute(text("SELECT name FROM t"))).scalars().all()
    assert names == ["kept"]
