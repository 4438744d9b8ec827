"""A row as the store will hold it once inserted, worked out without reading it back.

A restore journals every row it creates with the row as stored (store/backup/journal.py):
a rollback takes the row out only while it is still exactly that. Reading each created
row back (RETURNING) and journaling it was over half of a restore into an emptied store
(py-spy, bench.backup). A row that carries every column of its table is stored as sent,
up to its datetimes' round trip (UTC, isoformat), so its image is known beforehand; a row
lacking columns (an archive of an earlier schema) gets defaults only the database knows,
and tables with other converted types are not worked out here: both are read back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column

from store.models import UTCDateTime

if TYPE_CHECKING:
    from store.backup.table_dump import BoundTable, JsonRow

Form = Callable[[str], str]


def _utc_datetime(text: str) -> str:
    # As UTCDateTime stores it and to_json reads it: aware, in UTC. A naive value is
    # refused by the insert itself.
    parsed = datetime.fromisoformat(text)
    return (parsed.astimezone(UTC) if parsed.tzinfo is not None else parsed).isoformat()


def _date(text: str) -> str:
    return date.fromisoformat(text).isoformat()


def stored_forms(
    columns: Sequence[Column[Any]], converted: dict[str, Callable[[str], Any]]
) -> dict[str, Form] | None:
    """How each converted column's archived text reads back once stored; None when some
    converted column is of a type whose round trip is not worked out here."""
    forms: dict[str, Form] = {}
    for column in columns:
        if column.name not in converted:
            continue
        if isinstance(column.type, UTCDateTime):
            forms[column.name] = _utc_datetime
        elif converted[column.name] is date.fromisoformat:
            forms[column.name] = _date
        else:
            return None
    return forms


def stored_as_archived(bound: BoundTable, row: JsonRow) -> bool:
    """Whether `row` (archived, JSON-ready) reads back as it is once inserted as it is:
    every column and no other, datetimes already as they read back. Its archive line is
    then its image, with no need to build and encode one."""
    forms = bound.stored_forms
    if forms is None or row.keys() != bound.column_set:
        return False
    for name, form in forms.items():
        value = row[name]
        if value is not None and (not isinstance(value, str) or form(value) != value):
            return False
    return True


def stored_image(bound: BoundTable, row: JsonRow) -> JsonRow | None:
    """`row` (archived, JSON-ready) as `existing_rows` will read it once inserted as it is
    (never merged with a stored row); None when only the database can tell."""
    forms = bound.stored_forms
    if forms is None:
        return None
    image = {name: row[name] for name in bound.column_names if name in row}
    if len(image) != len(bound.column_names):
        return None  # the store fills in defaults for the missing columns
    for name, form in forms.items():
        value = image[name]
        if value is not None:
            if not isinstance(value, str):
                return None  # refused by the insert, or stored in a way not worked out here
            image[name] = form(value)
    return image
