"""Figures for the health endpoint and the gauges refreshed before each scrape."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import generate_latest
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.probes import collect
from api.core.state import AppState
from api.observability.metrics import ApiMetrics
from api.observability.schemas import (
    BackupFigures,
    BridgeFigures,
    MetricsHealth,
    RequestFigures,
    StoreFigures,
)
from store.health import BRIDGE_LAG_FIGURE, decode_figures, read_health
from store.observability import fleet_figures, last_good_backup_at, store_size_bytes


async def exposition(metrics: ApiMetrics, *, session: AsyncSession) -> bytes:
    """The registry in Prometheus' text format, fleet gauges read from the store just now."""
    metrics.set_fleet(await fleet_figures(session))
    return generate_latest(metrics.registry)


async def health_figures(
    metrics: ApiMetrics, *, state: AppState, session: AsyncSession
) -> MetricsHealth:
    now = datetime.now(UTC)
    snapshot = await collect(state)
    recent = metrics.recent()
    fleet = await fleet_figures(session)
    bridge_row = next((row for row in await read_health(session) if row.name == "bridge"), None)
    last_backup = await last_good_backup_at(session)
    return MetricsHealth(
        status=snapshot.status,
        timestamp=now,
        uptime_seconds=round(metrics.uptime_seconds, 3),
        requests=RequestFigures(
            window_seconds=round(recent.window_seconds, 3),
            requests=recent.requests,
            rate_per_second=round(recent.requests_per_second, 3),
            error_rate=round(recent.error_rate, 4),
            latency_p95_ms=None
            if recent.latency_p95_seconds is None
            else round(recent.latency_p95_seconds * 1000, 3),
        ),
        bridge=BridgeFigures(
            lag_seconds=decode_figures(bridge_row.detail).get(BRIDGE_LAG_FIGURE)
            if bridge_row is not None
            else None,
            reported_at=bridge_row.checked_at if bridge_row is not None else None,
        ),
        store=StoreFigures(
            size_bytes=await store_size_bytes(session),
            devices=sum(count.devices for count in fleet.by_state),
            devices_online=fleet.online,
        ),
        backups=BackupFigures(
            last_good_at=last_backup,
            age_seconds=None
            if last_backup is None
            else round((now - last_backup).total_seconds(), 3),
        ),
    )
