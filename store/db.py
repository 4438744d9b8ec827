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

# SQLite file stores keep every pooled connection: SQLAlchemy's default (5, up to 15 with
# overflow) closed each connection past the fifth when it came back, and every new one
# cost a thread (aiosqlite), a file open and the pragmas below. Under 50 commands at once
# that churn was a visible share of the worker's CPU (bench.command_latency with
# --profile); the ceiling stays 15 connections, as before.
SQLITE_POOL = {"pool_size": 15, "max_overflow": 0}


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:" and not database.startswith("file:"):
            private_sqlite_file(Path(database))  # 0600, before SQLite creates it 0644
            kwargs = {**SQLITE_POOL, **kwargs}
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
