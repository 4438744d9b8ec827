"""Rollup SQL shared by compaction and queries: bucket expressions and sum/count columns."""

from __future__ import annotations

from typing import cast

from sqlalchemy import ColumnElement, Table, literal_column

from store.models import METRICS, MetricRollup, MetricSample

RAW = cast(Table, MetricSample.__table__)
ROLLUPS = cast(Table, MetricRollup.__table__)
WIDTHS = (60, 300, 3600)
# The node of the fleet's own rollups: every node's sums and counts per bucket, so the
# fleet's series reads one row a bucket. Node ids are UUIDs; this one is never a node's.
FLEET = ""


def bucket_of(column: ColumnElement[int], width: int) -> ColumnElement[int]:
    """`column - column % width`, the width inlined: PostgreSQL must see the GROUP BY
    expression and the selected one as the same text, which bound parameters are not."""
    if width not in WIDTHS:
        raise ValueError(f"no rollups of {width} s")
    size: ColumnElement[int] = literal_column(str(width))
    return column - column % size


def node_key(column: ColumnElement[str]) -> ColumnElement[str]:
    """`node_id || ''`: the same value, which SQLite can no longer read in index order.

    Grouping raw samples by node over a range of `ts`, SQLite (without statistics) walks
    the whole primary key (node_id, ts) for its order instead of the `ts` index to the few
    rows asked for: seconds, not milliseconds, with a day of samples (bench.metrics).
    """
    return column.op("||")(literal_column("''"))


def sum_columns() -> list[str]:
    """The rollup table's sum/count columns, in METRICS order: m_sum, m_n, ..."""
    return [name for metric in METRICS for name in (f"{metric}_sum", f"{metric}_n")]


def floor_to(ts: int, width: int) -> int:
    return ts - ts % width
