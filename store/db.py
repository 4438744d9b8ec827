"""Engine and session factory. Built once per process in its entry point."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from pydantic_core import from_json
from sqlalchemy import event, exc, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from store import sqlite_driver
from store.files import private_sqlite_file
from store.settings import Settings

# SQLite file stores keep every pooled connection and open none past the pool:
# SQLAlchemy's default (5, up to 15 with overflow) closed each connection past the fifth
# when it came back, and every new one cost a thread (aiosqlite), a file open and the
# pragmas below. Under 50 commands at once that churn was a visible share of the
# worker's CPU (bench.command_latency with --profile).
SQLITE_POOL_SIZE = 15
# JSON's -> and ->> operators and unixepoch(): the device list's and backups' statements
# (store/devices/list_json.py, store/backup/sqlite_lines.py).
SQLITE_MINIMUM = (3, 38, 0)


def engine_for(settings: Settings, *, sqlite_cache_kib: int | None = None) -> AsyncEngine:
    """The store of a process: its URL, with the pool the settings size.

    `database_pool_size` connections stay open (on PostgreSQL up to MAX_OVERFLOW more
    open under load); a caller that finds none free within `database_pool_timeout_seconds` gets
    sqlalchemy.exc.TimeoutError (the API answers 503). An in-memory SQLite has one
    connection and no pool to size. `sqlite_cache_kib`: see create_engine.
    """
    url = settings.sqlalchemy_url
    if make_url(url).database in (None, "", ":memory:"):
        return create_engine(url)
    return create_engine(
        url,
        pool_size=settings.database_pool_size,
        pool_timeout=settings.database_pool_timeout_seconds,
        sqlite_cache_kib=sqlite_cache_kib,
    )


# A pooled PostgreSQL connection idle longer than this is pinged before use.
PING_IDLE_SECONDS = 10.0
# Connections opened past pool_size while every pooled one is busy; they close on return.
MAX_OVERFLOW = 10


def create_engine(
    url: str, *, pool_size: int | None = None, sqlite_cache_kib: int | None = None, **kwargs: Any
) -> AsyncEngine:
    """The process's engine. `pool_size`: connections kept open (when None, SQLAlchemy's
    5 on PostgreSQL and SQLITE_POOL_SIZE on a SQLite file). `sqlite_cache_kib`: each
    SQLite connection's page cache (None: SQLite's 2 MiB); ignored on PostgreSQL.

    JSON columns decode with pydantic_core: a device list decodes two JSON columns per row,
    and the stdlib decoder was a tenth of a page's time on PostgreSQL (py-spy).
    """
    kwargs.setdefault("json_deserializer", from_json)
    if url.startswith("sqlite"):
        _require_sqlite()
        database = make_url(url).database
        if database and database != ":memory:" and not database.startswith("file:"):
            private_sqlite_file(Path(database))  # 0600, before SQLite creates it 0644
            kwargs.update(pool_size=pool_size or SQLITE_POOL_SIZE, max_overflow=0)
        if make_url(url).drivername == "sqlite+aiosqlite":
            kwargs.setdefault("module", sqlite_driver.DBAPI)  # fewer thread handoffs
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        if sqlite_cache_kib is not None:
            event.listen(engine.sync_engine, "connect", _sqlite_cache(sqlite_cache_kib))
        return engine
    if pool_size is not None:
        kwargs.update(pool_size=pool_size, max_overflow=MAX_OVERFLOW)
    engine = create_async_engine(url, **kwargs)
    _check_on_checkout(engine)
    return engine


def _require_sqlite() -> None:
    """Refuse an SQLite library older than SQLITE_MINIMUM, before a statement fails on it."""
    if sqlite3.sqlite_version_info < SQLITE_MINIMUM:
        needed = ".".join(map(str, SQLITE_MINIMUM))
        raise RuntimeError(
            f"SQLite {sqlite3.sqlite_version} is too old: edgewright needs {needed} or later "
            "(its JSON operators and unixepoch); use a newer Python build or PostgreSQL"
        )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the API read while the worker writes; busy_timeout rides out short locks.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_cache(kib: int) -> Any:
    def _set(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA cache_size=-{int(kib)}")  # negative: KiB, not pages
        cursor.close()

    return _set


def _check_on_checkout(engine: AsyncEngine) -> None:
    """A cheaper pool_pre_ping: a pooled connection is replaced when its socket is known
    closed (a server restart closes it, and asyncpg notices), and pinged only when it sat
    idle past PING_IDLE_SECONDS (a peer or firewall may have dropped it silently).

    SQLAlchemy's pre-ping on asyncpg is BEGIN, a query and ROLLBACK: three round trips on
    every checkout, which was as many as the rest of a device page's statements.
    """

    @event.listens_for(engine.sync_engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _check(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        driver = getattr(dbapi_connection, "driver_connection", None)
        is_closed = getattr(driver, "is_closed", None)
        if callable(is_closed) and is_closed():
            raise exc.DisconnectionError("the connection was closed")  # the pool reconnects
        returned = record.info.get("returned_at")
        if returned is None or time.monotonic() - returned < PING_IDLE_SECONDS:
            return  # just opened, or in use moments ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as err:
            raise exc.DisconnectionError("the connection failed its ping") from err


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def read_connection(session: AsyncSession) -> AsyncConnection:
    """The session's connection, for one statement that reads and nothing after it writes.

    On PostgreSQL, when nothing in the session began a transaction yet, the connection
    autocommits: no BEGIN before the statement and no COMMIT after, two of a device page's
    three round trips (one statement sees one snapshot anyway). The pool resets the
    isolation level when the connection returns. On SQLite the driver begins no
    transaction for a read, and switching the mode would cost two calls into its thread.
    """
    if session.in_transaction() or session.get_bind().dialect.name != "postgresql":
        return await session.connection()
    return await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


@asynccontextmanager
async def sqlite_page_cache(session: AsyncSession, kib: int) -> AsyncIterator[None]:
    """The session's SQLite connection with a page cache of `kib` while the block runs,
    then the size it had (elsewhere: nothing). The block must not end the session's
    transaction: only until then is the connection the session's, so the old size goes
    back on the same one and no pooled connection keeps the larger cache."""
    connection = await session.connection()
    if connection.dialect.name != "sqlite":
        yield
        return
    before = int((await connection.exec_driver_sql("PRAGMA cache_size")).scalar_one())
    await connection.exec_driver_sql(f"PRAGMA cache_size=-{int(kib)}")  # negative: KiB
    try:
        yield
    finally:
        await connection.exec_driver_sql(f"PRAGMA cache_size={before}")
