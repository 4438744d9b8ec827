"""INSERT ... ON CONFLICT for the two backends we run on (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.sql.dml import Insert

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite

    ConflictInsert = postgresql.Insert | sqlite.Insert


async def upsert(
    session: AsyncSession,
    *,
    model: type[DeclarativeBase],
    values: dict[str, Any],
    key: str,
    update: list[str] | None = None,
    unless_newer: str | None = None,
) -> None:
    """Insert `values`; when `key` exists, update the `update` columns (or do nothing).

    `unless_newer` names a column: the update is skipped when the stored row's value of it
    is later than the new one (a read taken earlier, committed later, loses).
    """
    dialect = session.get_bind().dialect.name
    table = cast(Table, model.__table__)
    stmt = _upsert_statement(dialect, table, key, tuple(update or ()), unless_newer)
    await session.execute(stmt, values)


def insert_for(dialect: str) -> Callable[[Any], ConflictInsert]:
    """`insert` of `dialect` (SQLite's or PostgreSQL's), which has ON CONFLICT.

    Imported when first asked for: the PostgreSQL dialect package is 2 MB of resident
    memory in a process on SQLite, which never uses it (the API's budget is 150 MB).
    """
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


@lru_cache(maxsize=128)
def _upsert_statement(
    dialect: str, table: Table, key: str, update: tuple[str, ...], unless_newer: str | None
) -> Insert:
    # Built once per shape and run with the values as parameters: building it per call
    # (the `excluded` alias especially) was a visible share of a join's worker CPU.
    stmt = insert_for(dialect)(table)
    if update:
        where = None
        if unless_newer is not None:
            where = table.c[unless_newer] <= stmt.excluded[unless_newer]
        return stmt.on_conflict_do_update(
            index_elements=[key], set_={name: stmt.excluded[name] for name in update}, where=where
        )
    return stmt.on_conflict_do_nothing(index_elements=[key])
