"""Rows of any backed-up table with awkward values of every column type: fractions and
whole seconds, floats that 15 digits would change, quotes, newlines, emoji, control
characters, nested documents, and every nullable column empty in every third row."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Column, Float, Integer, String

from store.backup.table_dump import BoundTable
from store.models import UTCDateTime

WITH_FRACTION = datetime(2026, 1, 15, 10, 30, 5, 123456, tzinfo=UTC)
WHOLE_SECOND = datetime(2026, 1, 15, 10, 30, 5, tzinfo=UTC)
FLOATS = [0.1 + 0.2, 1 / 3, 1e-7, 30.0, 123456789.12345679, 5e-324, 1e16]
TEXT = 'a "quoted"\nline \\ é 😀 \x01 '
DOCUMENT = {"fps": 15, "ratio": 1.5, "night": True, "note": TEXT, "x": None, "l": [1, {}]}


def _value(column: Column[Any], index: int) -> Any:
    """A JSON-ready value of the column's type, different from row to row."""
    sql_type = column.type
    if isinstance(sql_type, UTCDateTime):
        return (WITH_FRACTION if index % 2 else WHOLE_SECOND).isoformat()
    if isinstance(sql_type, JSON):
        return [DOCUMENT, {}, [], "text", 7][index % 5]
    if isinstance(sql_type, Boolean):
        return index % 2 == 0
    if isinstance(sql_type, Float):
        return FLOATS[index % len(FLOATS)]
    if isinstance(sql_type, Integer):
        return index * 1_000_003
    if isinstance(sql_type, String):
        return f"{TEXT}{index}"[: sql_type.length] if sql_type.length else f"{TEXT}{index}"
    raise AssertionError(f"no sample value for {column.name}: {sql_type!r}")


def sample_rows(bound: BoundTable, count: int) -> list[dict[str, Any]]:
    rows = []
    for index in range(count):
        row = {column.name: _value(column, index) for column in bound.columns}
        if index % 3 == 2:  # every nullable column empty
            row |= {c.name: None for c in bound.columns if c.nullable and not c.primary_key}
        for name in bound.spec.key:
            row[name] = _value(bound.table.c[name], index) if name == "revision" else f"k{index}"
        rows.append(row)
    return rows
