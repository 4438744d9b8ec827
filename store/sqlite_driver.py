"""SQLAlchemy's aiosqlite adapter with fewer calls into each connection's thread.

aiosqlite runs every call on a connection in that connection's own thread: the event
loop queues the call, the thread wakes, takes the GIL and hands the answer back. The
stock adapter makes four such calls per statement (open a cursor, execute, fetch, close)
and two more per request (COMMIT, then the pool's ROLLBACK on return), so a device page
on SQLite made six. Under load each handoff waits for the GIL while the loop runs other
requests: the handoffs were a fifth of the API's main-thread samples under py-spy
(bench.api_reads --profile), more than the statement's own work.

Here a statement is one call: the thread opens a cursor, executes, fetches every row
and closes it, and the adapter answers description, rowcount and lastrowid from what it
brought back. COMMIT and ROLLBACK are skipped when SQLite has no transaction open (a
read never opens one: pysqlite begins only before a write), which is exactly when
sqlite3 itself would do nothing for them. Server-side cursors (`Connection.stream`) keep
the stock adapter: they fetch a part at a time by design.

`create_engine` (store.db) passes `DBAPI` as the engine's `module`, SQLAlchemy's way to
give a dialect another DB-API module.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util.concurrency import await_

_Outcome = tuple[Any, list[Any], int, int | None]


def _execute(
    connection: sqlite3.Connection, operation: str, parameters: Any, *, many: bool
) -> _Outcome:
    # Runs in the connection's thread: the whole statement, then the cursor is gone.
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class _Cursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ("_arraysize", "_description", "_lastrowid", "_rowcount")

    # Nothing to close in the thread: the statement's cursor closed there already.
    _awaitable_cursor_close = False

    def __init__(self, adapt_connection: Any) -> None:  # no cursor opened in the thread
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = {}  # type: ignore[assignment]
        self._rows = deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        return self._run(operation, parameters, many=False)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        return self._run(operation, seq_of_parameters, many=True)

    def _run(self, operation: Any, parameters: Any, *, many: bool) -> None:
        try:
            await_(self._run_async(operation, parameters, many=many))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _run_async(self, operation: Any, parameters: Any, *, many: bool) -> None:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        async with self._adapt_connection._execute_mutex:
            # aiosqlite's own queue into the thread (public calls would take four trips).
            outcome: _Outcome = await connection._execute(  # type: ignore[no-untyped-call]
                _execute, connection._conn, operation, parameters, many=many
            )
        self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = deque(rows)

    def close(self) -> None:
        self._rows.clear()

    def nextset(self) -> None:
        raise NotImplementedError("SQLite has one result set per statement")

    def setinputsizes(self, *inputsizes: Any) -> None:
        return None  # DB-API allows a no-op; sqlite3's is one too


class _Connection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()

    _cursor_cls = _Cursor

    def _idle(self) -> bool:
        """No transaction open: COMMIT and ROLLBACK would do nothing in sqlite3 either."""
        connection: sqlite3.Connection | None = self._connection._connection
        return connection is not None and not connection.in_transaction

    def commit(self) -> None:
        if not self._idle():
            super().commit()

    def rollback(self) -> None:
        if not self._idle():
            super().rollback()


class _Dbapi(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> _Connection:
        stock = super().connect(*arg, **kw)
        return _Connection(self, stock._connection)


DBAPI = _Dbapi(aiosqlite, sqlite3)
