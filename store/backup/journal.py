"""A restore's undo journal: each row and object it changed, as it was and as it left it.

A restore appends an entry for every change in the transaction of the change (for a
Kubernetes object, just before the write), so a failed restore can be undone exactly:
newest entry first, and only where the restore's write is still what is there. For each
entry, compared with what is there now (`decide`):

- still as before the restore (never written, or undone already): nothing to do;
- still as the restore left it: put the before image back (delete what it created);
- anything else: someone changed it after the restore did. Their change wins and the
  rollback reports the entry as kept: undoing it would lose a write made meanwhile.

An entry is marked with its outcome in the transaction that undoes it, so a rollback that
is retried or crashes half-way carries on where it stopped and never undoes twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import JSON, Dialect, Table, TypeDecorator, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.backup.json_text import ENCODER
from store.models import RestoreJournalRow, utcnow

JsonRow = dict[str, Any]


class Outcome(StrEnum):
    RESTORED = "restored"  # the before image is back (or the created row is gone)
    UNCHANGED = "unchanged"  # it already was as before
    KEPT = "kept"  # changed by someone else since the restore wrote it: left alone


@dataclass(frozen=True)
class Change:
    part: str
    key: tuple[Any, ...]
    before: JsonRow | None  # None: the restore created it
    after: JsonRow | None  # None: the restore deleted it


@dataclass(frozen=True, kw_only=True)
class Entry(Change):
    entry_id: int


def decide(current: JsonRow | None, entry: Change) -> Outcome | None:
    """What undoing `entry` does given what is there now; None: put the before image back."""
    if current == entry.before:
        return Outcome.UNCHANGED
    if current == entry.after:
        return None
    return Outcome.KEPT


async def append(session: AsyncSession, *, restore_id: str, changes: Sequence[Change]) -> None:
    if not changes:
        return
    now = utcnow()
    connection = await session.connection()
    if connection.dialect.name == "sqlite":
        # The driver's executemany of plain tuples: SQLAlchemy's work per row and column
        # was as much as SQLite's own in a restore into an emptied store (bench.backup).
        # The dialect's own processor: the column's alone would hand sqlite3 a datetime.
        dialect = connection.dialect
        created_at = _TABLE.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
        stamp = created_at(now) if created_at is not None else now
        tuples = [
            (
                restore_id,
                change.part,
                _key(change),
                image_text(change.before),
                image_text(change.after),
                stamp,
            )
            for change in changes
        ]
        await connection.exec_driver_sql(_SQLITE_INSERT, tuples)
        return
    rows = [
        {
            "restore_id": restore_id,
            "part": change.part,
            "key": _key(change),
            "before": image_text(change.before),
            "after": image_text(change.after),
            "outcome": None,
            "created_at": now,
        }
        for change in changes
    ]
    # The table, not the mapped class: an ORM bulk insert costs mapper work per row, and a
    # restore journals every row it writes. The images go in as the JSON text made here.
    await session.execute(_INSERT, rows)


def _key(change: Change) -> str:
    return ENCODER.encode(list(change.key))


def image_text(image: JsonRow | None) -> str:
    return "null" if image is None else ENCODER.encode(image)


class EncodedJson(TypeDecorator[str]):
    """A JSON column's value given as its JSON text: bound as it is, not encoded again."""

    impl = JSON
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> None:
        return None


_TABLE = cast(Table, RestoreJournalRow.__table__)
_INSERT = insert(_TABLE).values(
    {name: bindparam(name, type_=EncodedJson()) for name in ("key", "before", "after")}
)
_SQLITE_INSERT = (
    f"INSERT INTO {_TABLE.name} (restore_id, part, key, before, after, outcome, created_at) "  # noqa: S608
    "VALUES (?, ?, ?, ?, ?, NULL, ?)"
)


async def pending(session: AsyncSession, *, restore_id: str, limit: int) -> list[Entry]:
    """The newest `limit` entries not undone yet, newest first."""
    stmt = (
        select(RestoreJournalRow)
        .where(RestoreJournalRow.restore_id == restore_id, RestoreJournalRow.outcome.is_(None))
        .order_by(RestoreJournalRow.id.desc())
        .limit(limit)
    )
    return [
        Entry(
            entry_id=row.id,
            part=row.part,
            key=tuple(row.key),
            before=row.before,
            after=row.after,
        )
        for row in await session.scalars(stmt)
    ]


async def settle(session: AsyncSession, *, entry_id: int, outcome: Outcome) -> None:
    await session.execute(
        update(RestoreJournalRow)
        .where(RestoreJournalRow.id == entry_id, RestoreJournalRow.outcome.is_(None))
        .values(outcome=outcome.value)
    )


async def outcomes(session: AsyncSession, *, restore_id: str) -> dict[Outcome, int]:
    stmt = (
        select(RestoreJournalRow.outcome, func.count())
        .where(RestoreJournalRow.restore_id == restore_id, RestoreJournalRow.outcome.is_not(None))
        .group_by(RestoreJournalRow.outcome)
    )
    rows = await session.execute(stmt)
    return {Outcome(str(outcome)): int(count) for outcome, count in rows}


async def kept(session: AsyncSession, *, restore_id: str, limit: int) -> list[Change]:
    """The newest `limit` entries a rollback left alone."""
    stmt = (
        select(RestoreJournalRow)
        .where(
            RestoreJournalRow.restore_id == restore_id,
            RestoreJournalRow.outcome == Outcome.KEPT.value,
        )
        .order_by(RestoreJournalRow.id.desc())
        .limit(limit)
    )
    return [
        Change(part=row.part, key=tuple(row.key), before=row.before, after=row.after)
        for row in await session.scalars(stmt)
    ]
