"""INSERT ... ON CONFLICT for the two backends we run on (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase


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
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(cast(Table, model.__table__)).values(**values)
    if update:
        stmt = stmt.on_conflict_do_update(
            index_elements=[key], set_={name: stmt.excluded[name] for name in update}
        )
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=[key])
    await session.execute(stmt)
