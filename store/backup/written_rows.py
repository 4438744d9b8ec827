"""Journal entries for rows a restore has just written, their images built by the database.

After a batch is upserted, its rows are copied from the live table into the journal by
key, each as a JSON object the database makes: exactly what a rollback finds if nobody
writes the row meanwhile (defaults, latest_wins and type round trips included), with no
work per row in Python. Created rows take one INSERT ... SELECT per batch; overwritten
ones one executemany, as each carries its own before image. Making the images in Python
(and reading back the rows whose stored form was not known beforehand) was most of a
restore into an emptied store (py-spy, bench.backup).

The database writes some values its own way (SQLite: datetimes as stored, booleans as
0/1; PostgreSQL: timestamps in the session's zone). `canonical` brings an image to the
form `existing_rows` reads, so a rollback compares like with like.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    Table,
    bindparam,
    func,
    insert,
    literal,
    literal_column,
    null,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from store.backup.journal import EncodedJson, image_text
from store.backup.table_dump import BoundTable, JsonRow, Key, key_in
from store.models import RestoreJournalRow, UTCDateTime, utcnow

_JOURNAL = cast(Table, RestoreJournalRow.__table__)
_COLUMNS = ("restore_id", "part", "key", "before", "after", "outcome", "created_at")
# Pairs per json_object / jsonb_build_object call: both take at most 100-odd arguments.
_PAIRS = 50


async def journal_written(
    session: AsyncSession,
    bound: BoundTable,
    *,
    restore_id: str,
    part: str,
    created: Sequence[Key],
    overwritten: Sequence[tuple[Key, JsonRow]],
) -> None:
    """Journal the rows just written under `restore_id`: `created` ones by key, and
    `overwritten` ones by key with the row as it was before."""
    dialect = session.get_bind().dialect.name
    image = _image(bound, dialect)
    key = _array([bound.table.c[name] for name in bound.spec.key], dialect)
    now = literal(utcnow(), type_=UTCDateTime())
    if created:
        none = literal("null", type_=EncodedJson())  # as journal.append writes "no row"
        rows = select(literal(restore_id), literal(part), key, none, image, null(), now).where(
            key_in(bound, created)
        )
        await session.execute(insert(_JOURNAL).from_select(_COLUMNS, rows))
    if overwritten:
        params = [
            {"before": image_text(row), **{f"k{i}": value for i, value in enumerate(k)}}
            for k, row in overwritten
        ]
        match = [
            bound.table.c[name] == bindparam(f"k{i}", type_=bound.table.c[name].type)
            for i, name in enumerate(bound.spec.key)
        ]
        rows = select(
            literal(restore_id),
            literal(part),
            key,
            bindparam("before", type_=EncodedJson()),
            image,
            null(),
            now,
        ).where(*match)
        await session.execute(insert(_JOURNAL).from_select(_COLUMNS, rows), params)


def _image(bound: BoundTable, dialect: str) -> Any:
    """Each row of `bound` as a JSON object of its archived columns."""
    pairs: list[tuple[str, Any]] = []
    for column in bound.columns:
        value: Any = column
        if column.name in bound.json_columns and dialect == "sqlite":
            value = func.json(column)  # the document, not its text
        pairs.append((column.name, value))
    groups = [pairs[i : i + _PAIRS] for i in range(0, len(pairs), _PAIRS)]
    if dialect == "postgresql":
        objects = [func.jsonb_build_object(*_flat(group)) for group in groups]
        whole: Any = objects[0]
        for more in objects[1:]:
            whole = whole.op("||")(more)
        return whole.cast(JSON)
    whole = func.json_object(*_flat(groups[0]))  # SQLite
    for group in groups[1:]:
        whole = func.json_insert(whole, *_flat([(f'$."{name}"', v) for name, v in group]))
    return whole


def _flat(pairs: Sequence[tuple[str, Any]]) -> list[Any]:
    # Names as SQL literals, not parameters: they are the table's own column names.
    flat: list[Any] = []
    for name, value in pairs:
        flat += [literal_column(f"'{name}'"), value]
    return flat


def _array(columns: Sequence[Any], dialect: str) -> Any:
    if dialect == "postgresql":
        return func.jsonb_build_array(*columns).cast(JSON)
    return func.json_array(*columns)


def canonical(bound: BoundTable, image: JsonRow | None) -> JsonRow | None:
    """`image` with its datetimes, dates and booleans as `existing_rows` reads them."""
    if image is None:
        return None
    found = dict(image)
    for column in bound.columns:
        value = found.get(column.name)
        if isinstance(column.type, Boolean) and value in (0, 1):
            found[column.name] = bool(value)  # SQLite's 0 and 1
            continue
        parse = bound.converted.get(column.name)
        if parse is None or not isinstance(value, str):
            continue
        parsed = parse(value)
        if isinstance(parsed, datetime) and isinstance(column.type, UTCDateTime):
            # As UTCDateTime reads it: SQLite stores UTC without a zone.
            parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
            parsed = parsed.astimezone(UTC)
        found[column.name] = parsed.isoformat()
    return found
