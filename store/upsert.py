"""INSERT ... ON CONFLICT for the two backends we run on (SQLite and PostgreSQL)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.sql.dml import Insert


async def upsert(
    session: AsyncSession,
    *,
    model: type[DeclarativeBase],
    values: dict[str, Any],
    key: str,
    update: list[str] | None = None,
) -> None:
    """Insert `values`; when `key` exists, update the `update` columns (or do nothing)."""
    dialect = session.get_bind().dialect.name
    table = cast(Table, model.__table__)
    stmt = _upsert_statement(dialect, table, key, tuple(update or ()))
    await session.execute(stmt, values)


@lru_cache(maxsize=128)
def _upsert_statement(dialect: str, table: Table, key: str, update: tuple[str, ...]) -> Insert:
    # Built once per shape and run with the values as parameters: building it per call
    # (the `excluded` alias especially) was a visible share of a join's worker CPU.
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table)
    if update:
        return stmt.on_conflict_do_update(
            index_elements=[key], set_={name: stmt.excluded[name] for name in update}
        )
    return stmt.on_conflict_do_nothing(index_elements=[key])
