"""Metric series: one node's per bucket, and the fleet's per bucket and per node.

Buckets before the rollups' horizon (`compacted_until`, or a late sample's
`recompute_from` if older) come from the rollups; the rest is summed from raw samples at
query time, so a sample is visible the moment it is stored. The two parts meet in
disjoint buckets (the horizon is cut to the bucket width), so a node's rollup rows need no
grouping, and each series is one row a bucket from one `UNION ALL` statement.

The fleet's aggregate reads few rows: its per-bucket series from the fleet's own rollups
(node FLEET, written by compaction), and each node's totals over the window from the
coarsest rollups that tile it (a 1h@1m window is eleven 5m buckets and a few 1m ones per
node, not sixty). Sums and counts add up exactly, so the figures are those of the 1m
rollups; with 1,000 nodes this took the 1h@1m aggregate from four scans of 60,000 rows
to 60 rows plus one scan of about 17,000 (bench.metrics).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, and_, case, func, literal_column, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import METRICS, MetricCompaction
from store.monitoring.rollups import (
    FLEET,
    RAW,
    ROLLUPS,
    WIDTHS,
    bucket_of,
    floor_to,
    node_key,
    sum_columns,
)
from store.monitoring.samples import COMPACTION_ROW
from workflows.contracts.monitoring import MetricsRetention


@dataclass
class Totals:
    """Sum and count per metric over whatever was grouped."""

    sums: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, metric: str, total: Any, count: Any) -> None:
        if count:
            self.sums[metric] = self.sums.get(metric, 0.0) + float(total or 0.0)
            self.counts[metric] = self.counts.get(metric, 0) + int(count)

    def average(self, metric: str) -> float | None:
        count = self.counts.get(metric)
        return self.sums[metric] / count if count else None


class Point(NamedTuple):
    # A tuple, not a frozen dataclass: a 24h@5m series builds 2,304 of them, a third the
    # time each.
    ts: int
    value: float


Series = dict[str, list[Point]]


async def horizon(session: AsyncSession) -> int:
    """Epoch seconds before which the rollups are complete."""
    row = (
        await session.execute(
            select(MetricCompaction.compacted_until, MetricCompaction.recompute_from).where(
                MetricCompaction.name == COMPACTION_ROW
            )
        )
    ).first()
    if row is None:
        return 0
    until, late = row
    return min(until, late) if late is not None else int(until)


async def node_series(session: AsyncSession, *, node_id: str, width: int, start: int) -> Series:
    """One statement: the horizon is a subquery of it, not a round trip of its own.

    Three round trips (horizon, rollups, raw) and a Totals per bucket made a node's
    24h@5m series 3-4 times a bare SELECT of its rollup rows (bench.metrics p99), while
    the database spent under a millisecond on them (EXPLAIN ANALYZE on PostgreSQL).
    """
    cut = _cut(width)
    rolled = _rows(ROLLUPS.c.node_id == node_id, width=width, start=start, cut=cut)
    raw = _raw(bucket_of(RAW.c.ts, width), start=start, cut=cut).where(RAW.c.node_id == node_id)
    return _series(await session.execute(union_all(rolled, raw)))


async def fleet(
    session: AsyncSession, *, width: int, start: int, retention: MetricsRetention
) -> tuple[Series, dict[str, Totals]]:
    """Fleet averages per bucket, and each node's totals over the whole window.

    `retention` says which coarser rollups still hold the window: those kept at least
    as long as the `width` ones (the caller checked the window against those). The
    horizon is read first (the tiles depend on it), then one statement per result.
    """
    cut = max(floor_to(await horizon(session), width), start)
    rolled = _rows(ROLLUPS.c.node_id == FLEET, width=width, start=start, cut=cut)
    raw = _raw(bucket_of(RAW.c.ts, width), start=start, cut=cut)
    per_bucket = _series(await session.execute(union_all(rolled, raw)))
    per_node: dict[Any, Totals] = defaultdict(Totals)
    kept = retention.of(width)
    widths = [w for w in WIDTHS if w >= width and retention.of(w) >= kept]
    rolled = _rolled(ROLLUPS.c.node_id, tiles(start, cut, widths=widths)).where(
        ROLLUPS.c.node_id != FLEET
    )
    raw = _raw(node_key(RAW.c.node_id), start=start, cut=cut)
    await _sum_into(session, per_node, union_all(rolled, raw))
    return per_bucket, {str(key): value for key, value in per_node.items()}


def tiles(start: int, end: int, *, widths: Sequence[int]) -> list[tuple[int, int, int]]:
    """(width, first bucket, end) ranges that cover [start, end) exactly, coarsest first.

    `start` and `end` are multiples of the finest width; each coarser width takes the
    aligned middle and leaves both edges to the finer ones.
    """
    if start >= end:
        return []
    coarsest, *finer = sorted(widths, reverse=True)
    if not finer:
        return [(coarsest, start, end)]
    low = -(-start // coarsest) * coarsest
    high = floor_to(end, coarsest)
    if low >= high:
        return tiles(start, end, widths=finer)
    return [
        (coarsest, low, high),
        *tiles(start, low, widths=finer),
        *tiles(high, end, widths=finer),
    ]


def _rolled(key: ColumnElement[Any], ranges: Sequence[tuple[int, int, int]]) -> Any:
    sums = [
        agg
        for metric in METRICS
        for agg in (func.sum(ROLLUPS.c[f"{metric}_sum"]), func.sum(ROLLUPS.c[f"{metric}_n"]))
    ]
    where = [
        and_(ROLLUPS.c.width == width, ROLLUPS.c.bucket >= low, ROLLUPS.c.bucket < high)
        for width, low, high in ranges
    ]
    # No range (the window starts at the horizon): a condition that matches nothing.
    return select(key, *sums).where(or_(*where) if where else ROLLUPS.c.width < 0).group_by(key)


def _cut(width: int) -> ColumnElement[int]:
    """The horizon cut to `width`, as a scalar subquery (0 before any compaction)."""
    row = MetricCompaction
    late_first = and_(row.recompute_from.is_not(None), row.recompute_from < row.compacted_until)
    reached = case((late_first, row.recompute_from), else_=row.compacted_until)
    size: ColumnElement[int] = literal_column(str(width))
    found = select(reached - reached % size).where(row.name == COMPACTION_ROW).scalar_subquery()
    return func.coalesce(found, 0)


def _rows(node: ColumnElement[bool], *, width: int, start: int, cut: Any) -> Any:
    """One node's rollup rows in [start, cut): (width, node, bucket) is the key, so each
    row is its bucket's sums already and needs no grouping."""
    columns = (ROLLUPS.c[name] for name in sum_columns())
    return select(ROLLUPS.c.bucket, *columns).where(
        ROLLUPS.c.width == width, node, ROLLUPS.c.bucket >= start, ROLLUPS.c.bucket < cut
    )


def _raw(key: ColumnElement[Any], *, start: int, cut: Any) -> Any:
    sums = [
        agg for metric in METRICS for agg in (func.sum(RAW.c[metric]), func.count(RAW.c[metric]))
    ]
    return select(key, *sums).where(RAW.c.ts >= start, RAW.c.ts >= cut).group_by(key)


async def _sum_into(session: AsyncSession, totals: dict[Any, Totals], *statements: Any) -> None:
    for stmt in statements:
        for row in await session.execute(stmt):
            _add(totals[row[0]], row[1:])


def _add(totals: Totals, values: Sequence[Any]) -> None:
    for index, metric in enumerate(METRICS):
        totals.add(metric, values[2 * index], values[2 * index + 1])


def _series(rows: Iterable[Sequence[Any]]) -> Series:
    """Averages per bucket from rows of (bucket, sum, count, ...), one row a bucket: the
    rollups' and the raw samples' buckets are disjoint (the horizon is cut to the width)."""
    ordered = sorted(rows, key=itemgetter(0))
    return {
        metric: [
            Point(int(row[0]), float(row[total]) / row[total + 1])
            for row in ordered
            if row[total + 1]
        ]
        for metric, total in zip(METRICS, range(1, 2 * len(METRICS), 2), strict=True)
    }
