"""The engine's SQLite connections: the page cache a process asks for."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from store.db import create_engine


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
