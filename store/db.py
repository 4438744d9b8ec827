"""Engine and session factory. Built once per process in its entry point."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from store.files import private_sqlite_file
from store.settings import Settings


def engine_for(settings: Settings) -> AsyncEngine:
    """The store of a process: its URL, with the pool the settings size.

    `database_pool_size` connections stay open and as many again may open under load; a
    caller that finds none free within `database_pool_timeout_seconds` gets
    sqlalchemy.exc.TimeoutError (the API answers 503). An in-memory SQLite has one
    connection and no pool to size.
    """
    url = settings.sqlalchemy_url
    if make_url(url).database in (None, "", ":memory:"):
        return create_engine(url)
    size = settings.database_pool_size
    return create_engine(
        url,
        pool_size=size,
        max_overflow=size,
        pool_timeout=settings.database_pool_timeout_seconds,
    )


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:" and not database.startswith("file:"):
            private_sqlite_file(Path(database))  # 0600, before SQLite creates it 0644
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_pre_ping=True, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the API read while the worker writes; busy_timeout rides out short locks.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
