"""Archive lines written by SQLite itself: one `json_object(...)` per row.

A backup on SQLite spent half its time in Python turning each row into a dict, its
datetimes into text and the dict into JSON (py-spy, bench.backup). SQLite's JSON
functions make the same line in C, so Python only joins, hashes and compresses.

Each line decodes to exactly what `BoundTable.to_json` and `json_text.spliced` make of
the row (tests/store/backup/test_sqlite_lines.py holds the two side by side): datetimes as
Python's isoformat of an aware UTC datetime, booleans as true/false, floats with enough
digits to read back the same double, JSON documents as stored. A table with a column
type not handled here gets None from `line_of` and keeps the Python path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Enum,
    Float,
    Integer,
    String,
    and_,
    case,
    func,
    literal,
    literal_column,
    type_coerce,
)
from sqlalchemy.sql.elements import ColumnElement

from store.models import UTCDateTime
from store.sqlite_times import MICROSECONDS_GLOB, WHOLE_SECONDS_GLOB

# json_object takes two arguments per column; SQLite allows 127 per call by default.
_MAX_COLUMNS = 63


def line_of(columns: Sequence[Column[Any]]) -> ColumnElement[str] | None:
    """A row's archive line (of these columns) as one SQL expression, or None when a
    column's type is not one this module renders as Python would."""
    if len(columns) > _MAX_COLUMNS:
        return None
    arguments: list[Any] = []
    for column in columns:
        value = _value(column)
        if value is None:
            return None
        arguments += [literal(column.name), value]
    return func.json_object(*arguments, type_=String)


def _value(column: Column[Any]) -> Any:
    sql_type = column.type
    if isinstance(sql_type, UTCDateTime):
        return _iso_datetime(column)
    if isinstance(sql_type, JSON):
        return func.json(column)  # NULL stays NULL; a malformed document is refused
    if isinstance(sql_type, Boolean):
        # SQLAlchemy reads any non-zero integer as True.
        text = case((column.is_(None), "null"), (column != 0, "true"), else_="false")
        return func.json(text)
    if isinstance(sql_type, Float):
        # 17 significant digits read back as the same double; json_object's own rendering
        # keeps 15 and would change 0.1 + 0.2 on its way through an archive.
        return case((column.is_(None), None), else_=func.json(func.printf("%!.17g", column)))
    if isinstance(sql_type, Integer | String) and not isinstance(sql_type, Enum):
        return column  # stored as they are read, with no conversion on either side
    return None


def _iso_datetime(column: Column[Any]) -> Any:
    """Stored text as `datetime.isoformat()` of the aware value: 'T' between date and time,
    no fraction when it is zero, '+00:00'. Text in any other shape (written by hand) goes
    into the line as it is stored, for a restore to parse or refuse."""
    stored = type_coerce(column, String)  # the text, not UTCDateTime's Python values
    date = func.substr(stored, 1, 10, type_=String)
    clock = func.substr(stored, 12, 8, type_=String)
    fraction = func.substr(stored, 20, 7, type_=String)
    whole = stored.op("GLOB")(literal_column(WHOLE_SECONDS_GLOB))
    with_fraction = stored.op("GLOB")(literal_column(MICROSECONDS_GLOB))
    return case(
        (stored.is_(None), None),
        (whole, date + "T" + clock + "+00:00"),
        (and_(with_fraction, fraction == ".000000"), date + "T" + clock + "+00:00"),
        (with_fraction, date + "T" + clock + fraction + "+00:00"),
        else_=stored,
    )
