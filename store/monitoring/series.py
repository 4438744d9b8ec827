"""Metric series: one node's per bucket, and the fleet's per bucket and per node.

Buckets before the rollups' horizon (`compacted_until`, or a late sample's
`recompute_from` if older) come from the rollups; the rest is summed from raw samples at
query time, so a sample is visible the moment it is stored. Both parts group by bucket in
SQL and meet in disjoint buckets (the horizon is cut to the bucket width).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import METRICS, MetricCompaction
from store.monitoring.rollups import RAW, ROLLUPS, bucket_of, floor_to
from store.monitoring.samples import COMPACTION_ROW


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


@dataclass(frozen=True, kw_only=True)
class Point:
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
    totals = await _gather(session, width=width, start=start, by_node=False, node_id=node_id)
    return _series(totals)


async def fleet(
    session: AsyncSession, *, width: int, start: int
) -> tuple[Series, dict[str, Totals]]:
    """Fleet averages per bucket, and each node's totals over the whole window."""
    per_bucket = await _gather(session, width=width, start=start, by_node=False, node_id=None)
    per_node = await _gather(session, width=width, start=start, by_node=True, node_id=None)
    return _series(per_bucket), {str(key): value for key, value in per_node.items()}


async def _gather(
    session: AsyncSession, *, width: int, start: int, by_node: bool, node_id: str | None
) -> dict[Any, Totals]:
    cut = max(floor_to(await horizon(session), width), start)
    totals: dict[Any, Totals] = defaultdict(Totals)
    rolled_key = ROLLUPS.c.node_id if by_node else ROLLUPS.c.bucket
    rolled_sums = [
        agg
        for metric in METRICS
        for agg in (func.sum(ROLLUPS.c[f"{metric}_sum"]), func.sum(ROLLUPS.c[f"{metric}_n"]))
    ]
    rolled = (
        select(rolled_key, *rolled_sums)
        .where(ROLLUPS.c.width == width, ROLLUPS.c.bucket >= start, ROLLUPS.c.bucket < cut)
        .group_by(rolled_key)
    )
    raw_key: ColumnElement[Any] = RAW.c.node_id if by_node else bucket_of(RAW.c.ts, width)
    raw_sums = [
        agg for metric in METRICS for agg in (func.sum(RAW.c[metric]), func.count(RAW.c[metric]))
    ]
    raw = select(raw_key, *raw_sums).where(RAW.c.ts >= cut).group_by(raw_key)
    if node_id is not None:
        rolled = rolled.where(ROLLUPS.c.node_id == node_id)
        raw = raw.where(RAW.c.node_id == node_id)
    for stmt in (rolled, raw):
        for row in await session.execute(stmt):
            _add(totals[row[0]], row[1:])
    return totals


def _add(totals: Totals, values: Sequence[Any]) -> None:
    for index, metric in enumerate(METRICS):
        totals.add(metric, values[2 * index], values[2 * index + 1])


def _series(per_bucket: dict[Any, Totals]) -> Series:
    series: Series = {metric: [] for metric in METRICS}
    for bucket in sorted(per_bucket):
        for metric in METRICS:
            value = per_bucket[bucket].average(metric)
            if value is not None:
                series[metric].append(Point(ts=int(bucket), value=value))
    return series
