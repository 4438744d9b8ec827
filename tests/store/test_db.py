"""The engine's connections: the SQLite page cache a process or a transaction asks for,
reads that autocommit, and an SQLite library too old for the store's statements."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from store import db
from store.db import create_engine, read_connection, session_factory, sqlite_page_cache


async def _cache_size(url: str, **kwargs: int) -> int:
    engine = create_engine(url, **kwargs)
    try:
        async with engine.connect() as connection:
            return int((await connection.execute(text("PRAGMA cache_size"))).scalar_one())
    finally:
        await engine.dispose()


async def test_a_sqlite_page_cache_is_sized_in_kib_when_asked(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    assert await _cache_size(url, sqlite_cache_kib=256) == -256
    assert await _cache_size(url) == -2000  # SQLite's own default otherwise


async def test_a_transaction_s_larger_sqlite_page_cache_goes_back_when_it_ends(
    tmp_path: Path,
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}", sqlite_cache_kib=256)
    size = text("PRAGMA cache_size")
    try:
        async with session_factory(engine)() as session:
            async with sqlite_page_cache(session, 4096):
                assert (await session.execute(size)).scalar_one() == -4096
            assert (await session.execute(size)).scalar_one() == -256
            with pytest.raises(RuntimeError, match="in the block"):
                async with sqlite_page_cache(session, 8192):
                    raise RuntimeError("in the block")
            assert (await session.execute(size)).scalar_one() == -256
    finally:
        await engine.dispose()


async def _own_transactions(connection: AsyncConnection) -> bool:
    """Whether each statement runs in a transaction of its own (autocommit)."""
    if connection.dialect.name != "postgresql":
        options = connection.sync_connection.get_execution_options()  # type: ignore[union-attr]
        return bool(options.get("isolation_level") == "AUTOCOMMIT")
    ids = [(await connection.execute(text("SELECT txid_current()"))).scalar() for _ in "ab"]
    return ids[0] != ids[1]


async def test_a_read_autocommits_on_postgresql_only_when_nothing_began(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    postgres = database_url.startswith("postgresql")
    async with sessions() as session:
        assert await _own_transactions(await read_connection(session)) is postgres
    async with sessions() as session:  # the pool handed the connection back as it was
        assert not await _own_transactions(await session.connection())
        assert not await _own_transactions(await read_connection(session))  # one began


def test_an_sqlite_older_than_the_statements_need_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # This machine's SQLite is the real one; a minimum past it stands in for an old library.
    monkeypatch.setattr(db, "SQLITE_MINIMUM", (99, 0, 0))
    with pytest.raises(RuntimeError, match=r"SQLite .* is too old: edgewright needs 99\.0\.0"):
        db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    assert not (tmp_path / "old.db").exists()  # refused before anything was created
