"""JSON text of rows whose JSON columns are already text, without parsing them.

The database hands a JSON column's document over as compact text (table_dump.export_rows);
decoding it only to encode it again cost a quarter of a backup (py-spy, bench.backup).
`spliced` copies that text into the row's JSON as it is. A reader sees the same object
as from a row encoded whole; only the order of keys differs (the copied ones come last),
which JSON leaves open.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

# One encoder for every row: json.dumps with options builds a new one per call.
ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
# Archive lines keep the columns' order: sorting every row's keys cost a tenth of its
# encoding (bench.backup), and readers take the keys in any order.
_LINE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


@functools.cache
def _key(name: str) -> str:
    return ENCODER.encode(name) + ":"


def spliced(row: dict[str, Any], raw: Sequence[str]) -> str:
    """`row` as one line of JSON, its `raw` fields copied as the JSON text they hold
    (None: null). The text must be compact and valid, as the database makes it. Pops the
    `raw` fields from `row`."""
    if not raw:
        return _LINE.encode(row)
    fields = [f"{_key(name)}{'null' if (text := row.pop(name)) is None else text}" for name in raw]
    head = _LINE.encode(row)
    if head == "{}":
        return "{" + ",".join(fields) + "}"
    return head[:-1] + "," + ",".join(fields) + "}"
