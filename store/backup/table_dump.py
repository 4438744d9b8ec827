"""Any store table as a stream of JSON-ready rows, and those rows applied back by key.

Backups use this for every table they hold, so a new table becomes backed up by naming it
and its business key (activities/backup/parts.py). Rows are matched by that key, never by
the surrogate `id`, which differs from one database to the next. Nothing here holds a
whole table in memory: exports stream in batches and diffs look rows up batch by batch.

Some columns only ever move forward: a token's `revoked_at` and `used_at`. A restore never
clears or moves them back (`TableSpec.latest_wins`): the later of the stored and the
archived value stays, so restoring an old archive cannot bring a revoked or used token
back to life.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Dialect,
    Table,
    Text,
    TypeDecorator,
    case,
    cast,
    delete,
    func,
    inspect,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from store.backup import sqlite_lines, sqlite_rows
from store.models import Base
from store.upsert import insert_for

JsonRow = dict[str, Any]
Key = tuple[Any, ...]
BATCH = 1000


@dataclass(frozen=True, kw_only=True)
class TableSpec:
    table: str
    key: tuple[str, ...]
    exclude: tuple[str, ...] = ("id",)  # surrogate IDs are not part of an archive
    # Datetime columns a restore never clears nor moves back (revocations, uses).
    latest_wins: tuple[str, ...] = ()

    def merged(self, current: JsonRow, archived: JsonRow) -> JsonRow:
        """The archived row as a restore writes it over `current` (both JSON-ready)."""
        if not self.latest_wins:
            return archived
        merged = dict(archived)
        for name in self.latest_wins:
            if name in merged and name in current:
                merged[name] = _later(current[name], merged[name])
        return merged


def _later(stored: Any, archived: Any) -> Any:
    if stored is None or archived is None:
        return archived if stored is None else stored
    return archived if _as_datetime(archived) > _as_datetime(stored) else stored


def _as_datetime(value: Any) -> datetime:
    parsed: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return parsed


@dataclass(frozen=True)
class BoundTable:
    """A spec with its SQLAlchemy table and the columns that travel in an archive."""

    spec: TableSpec
    table: Table
    columns: tuple[Column[Any], ...]
    # Columns whose values JSON cannot carry as they are (datetimes, dates), and how to
    # read them back; every other value goes into the archive untouched. Worked out once
    # per table, since this runs for every value of every row.
    converted: dict[str, Callable[[str], Any]] = field(default_factory=dict)
    # JSON columns, which an export reads as their stored text (see export_rows).
    json_columns: tuple[str, ...] = ()

    @cached_property
    def column_names(self) -> tuple[str, ...]:
        # Cached: read for every row a backup exports or a restore writes, where building
        # it each time was a tenth of a restore's time (py-spy, bench.backup).
        return tuple(column.name for column in self.columns)

    @cached_property
    def column_set(self) -> frozenset[str]:
        return frozenset(self.column_names)

    def key_of(self, row: JsonRow) -> Key:
        return tuple(row[name] for name in self.spec.key)

    def to_json(self, row: Sequence[Any]) -> JsonRow:
        """A row selected as `select(*self.columns)`, JSON-ready."""
        values = dict(zip(self.column_names, row, strict=True))
        for name in self.converted:
            value = values[name]
            if value is not None:
                values[name] = value.isoformat()
        return values

    def from_json(self, row: JsonRow) -> dict[str, Any]:
        """Insert values; columns this schema no longer has are dropped, new ones default."""
        values = {name: row[name] for name in self.column_names if name in row}
        for name, parse in self.converted.items():
            value = values.get(name)
            if isinstance(value, str):
                values[name] = parse(value)
        return values


async def bind(session: AsyncSession, spec: TableSpec) -> BoundTable | str:
    """The bound table, or why it cannot be backed up (not in this version, not migrated)."""
    table = Base.metadata.tables.get(spec.table)
    if table is None:
        return f"this version has no table {spec.table!r}"
    connection = await session.connection()
    present = await connection.run_sync(lambda sync: inspect(sync).has_table(spec.table))
    if not present:
        return f"table {spec.table!r} does not exist in the database (not migrated?)"
    missing = [name for name in spec.key if name not in table.c]
    if missing:
        return f"table {spec.table!r} has no key column {missing[0]!r}"
    columns = tuple(column for column in table.columns if column.name not in spec.exclude)
    converted = {column.name: parse for column in columns if (parse := _parser(column)) is not None}
    json_columns = tuple(column.name for column in columns if isinstance(column.type, JSON))
    return BoundTable(
        spec=spec,
        table=table,
        columns=columns,
        converted=converted,
        json_columns=json_columns,
    )


def archive_line(session: AsyncSession, bound: BoundTable) -> ColumnElement[str] | None:
    """The row's archive line as the database writes it (SQLite: store/backup/sqlite_lines.py),
    or None where Python writes it (`bound.to_json` and json_text.spliced)."""
    if session.get_bind().dialect.name != "sqlite":
        return None
    return sqlite_lines.line_of(bound.columns)


async def export_rows(
    session: AsyncSession,
    bound: BoundTable,
    *,
    batch: int = BATCH,
    line: ColumnElement[str] | None = None,
) -> AsyncIterator[Sequence[Any]]:
    """Every row in key order, `batch` at a time. With `line` (from `archive_line`), each
    row is that one text. Otherwise each is as selected (`bound.to_json` makes one
    JSON-ready), except that JSON columns hold their stored document as compact JSON text
    (None for NULL), for the archive writer to copy as it is: decoding each document only
    to encode it again was over a quarter of a backup's time (py-spy, bench.backup)."""
    dialect = session.get_bind().dialect.name
    selected = [
        _json_text(column, dialect) if column.name in bound.json_columns else column
        for column in bound.columns
    ]
    key_columns = [bound.table.c[name] for name in bound.spec.key]
    stmt = select(*([line] if line is not None else selected))
    stmt = stmt.order_by(*key_columns).execution_options(yield_per=batch)
    result = await session.stream(stmt)
    async for partition in result.partitions(batch):
        yield partition


def _json_text(column: Column[Any], dialect: str) -> Any:
    """The column's document as one line of JSON text: normalised by the database, which
    also refuses a malformed one, as decoding it would have."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import JSONB  # only there (store.upsert.insert_for)

        return cast(cast(column, JSONB), Text).label(column.name)
    return func.json(column, type_=Text).label(column.name)


async def existing_rows(
    session: AsyncSession, bound: BoundTable, keys: Sequence[Key], *, lock: bool = False
) -> dict[Key, JsonRow]:
    """The stored rows among `keys`, JSON-ready, by key. `lock`: until the transaction
    ends, nobody else changes them (PostgreSQL; SQLite has one writer at a time anyway)."""
    if not keys:
        return {}
    stmt = select(*bound.columns).where(key_in(bound, keys))
    if lock:
        stmt = stmt.with_for_update()
    rows = await session.execute(stmt)
    found = (bound.to_json(row) for row in rows)
    return {bound.key_of(row): row for row in found}


async def has_rows(session: AsyncSession, bound: BoundTable) -> bool:
    return (await session.execute(select(1).select_from(bound.table).limit(1))).first() is not None


async def stored_keys(
    session: AsyncSession, bound: BoundTable, *, batch: int = BATCH
) -> AsyncIterator[list[Key]]:
    key_columns = [bound.table.c[name] for name in bound.spec.key]
    stmt = select(*key_columns).execution_options(yield_per=batch)
    result = await session.stream(stmt)
    async for partition in result.partitions(batch):
        yield [tuple(row) for row in partition]


async def upsert_rows(session: AsyncSession, bound: BoundTable, rows: Sequence[JsonRow]) -> None:
    """Insert, or overwrite every archived column of the row with the same key: one
    executemany of one prepared statement per set of columns the rows carry."""
    if not rows:
        return
    connection = await session.connection()
    dialect = connection.dialect
    convert = sqlite_rows.converters(bound.columns, dialect) if dialect.name == "sqlite" else None
    for names, group in _by_columns(bound, rows).items():
        stmt = _upsert_statement(bound, dialect.name, names)
        if convert is None:
            await session.execute(stmt, [bound.from_json(row) for row in group])
            continue
        compiled = _compiled(stmt, dialect, bound.spec.table, names)
        await connection.exec_driver_sql(
            compiled.string, sqlite_rows.tuples(group, compiled.order, convert)
        )


def _by_columns(bound: BoundTable, rows: Sequence[JsonRow]) -> dict[tuple[str, ...], list[JsonRow]]:
    """The rows by the columns of this schema they carry (an earlier schema's rows lack
    some: the store fills in their defaults)."""
    groups: dict[tuple[str, ...], list[JsonRow]] = {}
    known: dict[tuple[str, ...], tuple[str, ...]] = {}  # by the row's own keys
    for row in rows:
        keys = tuple(row)
        names = known.get(keys)
        if names is None:
            names = known[keys] = tuple(name for name in bound.column_names if name in row)
        groups.setdefault(names, []).append(row)
    return groups


def _upsert_statement(bound: BoundTable, dialect: str, names: tuple[str, ...]) -> Any:
    insert = insert_for(dialect)
    stmt = insert(bound.table)
    changing: dict[str, Any] = {
        name: stmt.excluded[name] for name in names if name not in bound.spec.key
    }
    for name in bound.spec.latest_wins:
        if name in changing:
            # Decided by the database, so it holds whatever the caller compared before.
            stored, archived = bound.table.c[name], stmt.excluded[name]
            changing[name] = case(
                (archived.is_(None), stored),
                (stored.is_(None), archived),
                (archived > stored, archived),
                else_=stored,
            )
    if changing:
        return stmt.on_conflict_do_update(index_elements=list(bound.spec.key), set_=changing)
    return stmt.on_conflict_do_nothing(index_elements=list(bound.spec.key))


@dataclass(frozen=True)
class _Compiled:
    string: str
    order: tuple[str, ...]  # the column of each positional parameter


_COMPILED: dict[tuple[str, tuple[str, ...]], _Compiled] = {}


def _compiled(stmt: Any, dialect: Dialect, table: str, names: tuple[str, ...]) -> _Compiled:
    """The statement as the driver takes it, compiled once per table and set of columns."""
    found = _COMPILED.get((table, names))
    if found is None:
        compiled = stmt.compile(dialect=dialect, column_keys=list(names))
        order = tuple(compiled.positiontup or ())
        if sorted(order) != sorted(names):  # one parameter per column, nothing else
            raise RuntimeError(f"unexpected parameters in the upsert of {table}: {order}")
        found = _COMPILED[(table, names)] = _Compiled(string=compiled.string, order=order)
    return found


async def delete_keys(session: AsyncSession, bound: BoundTable, keys: Sequence[Key]) -> None:
    for start in range(0, len(keys), BATCH):
        chunk = keys[start : start + BATCH]
        await session.execute(delete(bound.table).where(key_in(bound, chunk)))


def key_in(bound: BoundTable, keys: Iterable[Key]) -> Any:
    columns = [bound.table.c[name] for name in bound.spec.key]
    if len(columns) == 1:
        return columns[0].in_([key[0] for key in keys])
    return tuple_(*columns).in_(list(keys))


def _parser(column: Column[Any]) -> Callable[[str], Any] | None:
    """How to read the column's archived text back, for types JSON has no literal for."""
    sql_type = column.type
    if isinstance(sql_type, TypeDecorator):  # e.g. UTCDateTime: what it stores is what counts
        sql_type = sql_type.impl_instance
    try:
        python_type = sql_type.python_type
    except NotImplementedError:  # types without a Python equivalent pass through as stored
        return None
    if python_type is datetime:
        return datetime.fromisoformat
    if python_type is date:
        return date.fromisoformat
    if python_type in (bytes, bytearray, memoryview):
        raise TypeError(f"column {column.name} is binary; archives hold JSON-safe columns only")
    return None


async def begin_snapshot(session: AsyncSession) -> None:
    """Make the rest of this transaction read one consistent state of every table.

    PostgreSQL: REPEATABLE READ. SQLite (WAL) gives a reader a snapshot from its first read
    until it ends, but pysqlite only opens a transaction before writes, so ask for one.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        return
    connection = await session.connection()
    await connection.exec_driver_sql("BEGIN")
