"""Archived rows as the plain tuples SQLite's driver binds, stored as SQLAlchemy stores them.

A restore upserts every archived row; on SQLite, SQLAlchemy's bind work per row and
column (parsing each datetime only to format it again, encoding each JSON document) was
as much as the insert itself (py-spy, bench.backup). Here each column gets one
conversion chosen once per table, and the rows go to the driver's executemany. A table
with a column whose type binds in a way not reproduced here gets None from `converters`
and keeps SQLAlchemy's path. tests/store/backup/test_sqlite_rows.py checks that both
paths store the same text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Boolean, Column, Date, Dialect, Float

from store.models import UTCDateTime

Convert = Callable[[Any], Any]
# An aware UTC isoformat with microseconds, as exports write every such datetime: stored
# as SQLAlchemy's SQLite DATETIME writes it by slicing, without parsing.
_UTC_ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00")


def _utc_datetime(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str) and _UTC_ISO.fullmatch(value):
        return f"{value[:10]} {value[11:26]}"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:  # as UTCDateTime refuses them
        raise ValueError("naive datetimes are not stored; use UTC-aware ones")
    return parsed.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _date(value: Any) -> Any:
    return None if value is None else date.fromisoformat(value).isoformat()


def _json(none_as_null: bool) -> Convert:
    def convert(value: Any) -> Any:
        if value is None:  # most documents of a row are absent: no call for them
            return None if none_as_null else "null"
        return json.dumps(value)  # SQLAlchemy's serializer (store/db.py sets none)

    return convert


def _float(value: Any) -> Any:
    return None if value is None else float(value)  # as SQLite's Float binds it


def _boolean(value: Any) -> Any:
    # Boolean's own check: only booleans, 0, 1 and None are stored.
    if value is None or value is True or value is False or value in (0, 1):
        return value if value is None else int(value)
    raise TypeError(f"not a boolean value: {value!r}")


def converters(columns: Sequence[Column[Any]], dialect: Dialect) -> dict[str, Convert] | None:
    """How each column's archived value is bound (absent: as it is); None when a column
    binds in a way not reproduced here."""
    found: dict[str, Convert] = {}
    for column in columns:
        sql_type = column.type
        if isinstance(sql_type, UTCDateTime):
            found[column.name] = _utc_datetime
        elif isinstance(sql_type, JSON):
            found[column.name] = _json(sql_type.none_as_null)
        elif isinstance(sql_type, Boolean):
            found[column.name] = _boolean
        elif isinstance(sql_type, Date):
            found[column.name] = _date
        elif isinstance(sql_type, Float):
            found[column.name] = _float
        elif sql_type.dialect_impl(dialect).bind_processor(dialect) is not None:
            return None  # e.g. a plain DateTime or Numeric: SQLAlchemy binds those

    return found


def tuples(
    rows: Sequence[dict[str, Any]], names: Sequence[str], convert: dict[str, Convert]
) -> list[tuple[Any, ...]]:
    """`rows` (each holding every one of `names`) as tuples in the order of `names`."""
    get = itemgetter(*names)
    steps = [(index, convert[name]) for index, name in enumerate(names) if name in convert]
    found = []
    for row in rows:
        values = list(get(row)) if len(names) > 1 else [get(row)]
        for index, step in steps:
            values[index] = step(values[index])
        found.append(tuple(values))
    return found
