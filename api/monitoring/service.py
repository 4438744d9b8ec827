"""Metrics of both documents, from the store: record a sample, read series and aggregates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.errors import ApiError
from api.monitoring.batcher import SampleBatcher
from api.monitoring.schemas import FleetMetrics, MetricsReport, NodeAverages, NodeMetrics, Point
from api.monitoring.windows import Window
from store.models import METRICS, Device
from store.monitoring import series
from store.monitoring.samples import Sample
from store.monitoring.values import MetricValues
from workflows.contracts.monitoring import MetricsRetention

DECIMALS = 3


def _values(body: MetricsReport) -> MetricValues:
    readings = body.model_dump(
        include={"cpu_usage", "memory_usage", "memory_total", "disk_usage", "disk_total"}
        | {"temperature"},
        exclude_none=True,
    )
    if body.network is not None:
        readings.update(body.network.model_dump(exclude_none=True))
    containers = [c.model_dump(exclude_none=True) for c in body.containers or []] or None
    return MetricValues(values=readings, containers=containers)


def sample_time(
    body: MetricsReport, *, now: datetime, retention: MetricsRetention, max_future_seconds: int
) -> int:
    """The sample's epoch second; a 400 when it lies outside what is kept or ahead."""
    moment = body.timestamp or now
    oldest = now - timedelta(seconds=retention.raw_seconds // 2)
    newest = now + timedelta(seconds=max_future_seconds)
    if not oldest <= moment <= newest:
        raise ApiError(
            400,
            f"timestamp must lie between {oldest.isoformat()} and {newest.isoformat()}",
            details={"timestamp": "too old to be kept, or ahead of the server's clock"},
        )
    return int(moment.timestamp())


async def record(batcher: SampleBatcher, *, node_id: str, body: MetricsReport, ts: int) -> datetime:
    """Store one POSTed sample in the batcher's next transaction; returns once committed."""
    await batcher.record(Sample(node_id=node_id, ts=ts, values=_values(body)))
    return datetime.fromtimestamp(ts, UTC)


def _points(found: list[series.Point]) -> list[Point]:
    return [
        Point(timestamp=datetime.fromtimestamp(p.ts, UTC), value=round(p.value, DECIMALS))
        for p in found
    ]


async def node_metrics(session: AsyncSession, *, node: Device, window: Window) -> NodeMetrics:
    found = await series.node_series(
        session, node_id=node.node_id, width=window.width, start=window.start
    )
    return NodeMetrics(
        node_id=node.node_id,
        node_name=node.node_name,
        timeframe=window.timeframe,
        resolution=window.resolution,
        metrics={metric: _points(points) for metric, points in found.items()},
    )


async def fleet_metrics(
    session: AsyncSession, *, window: Window, retention: MetricsRetention
) -> FleetMetrics:
    per_bucket, per_node = await series.fleet(
        session, width=window.width, start=window.start, retention=retention
    )
    names = await _names(session, node_ids=list(per_node))
    nodes: dict[str, NodeAverages] = {}
    for node_id in sorted(names):  # nodes removed since are left out
        totals = per_node[node_id]
        averages = {
            f"{metric}_avg": round(value, DECIMALS)
            for metric in METRICS
            if (value := totals.average(metric)) is not None
        }
        nodes[node_id] = NodeAverages(name=names[node_id], **averages)
    return FleetMetrics(
        timeframe=window.timeframe,
        resolution=window.resolution,
        nodes_count=len(nodes),
        aggregated={f"{metric}_avg": _points(points) for metric, points in per_bucket.items()},
        nodes=nodes,
    )


async def _names(session: AsyncSession, *, node_ids: list[str]) -> dict[str, str]:
    names: dict[str, str] = {}
    for start in range(0, len(node_ids), 500):
        chunk = node_ids[start : start + 500]
        rows = await session.execute(
            select(Device.node_id, Device.node_name).where(Device.node_id.in_(chunk))
        )
        names.update((node_id, name) for node_id, name in rows)
    return names
