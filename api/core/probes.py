"""What the health endpoints report, gathered once per request.

The API probes what it holds itself (the database, its Temporal client). Kubernetes,
CloudCore and MQTT are driven by the worker, which writes what it last saw into
`component_health` (CloudCore: its Deployment's available replicas, see workers/health.py);
a row the worker has not refreshed for a minute means we do not know, and we say so.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import text

from api.core.state import AppState
from store.health import read_health
from store.models import ComponentHealth
from store.settings import package_version

logger = logging.getLogger(__name__)

STALE_AFTER = timedelta(seconds=60)
CONNECTED = "connected"
DISCONNECTED = "disconnected"
UNKNOWN = "unknown"
# CloudCore's states, as GET /api/kubeedge/cloudcore/status names them.
CLOUDCORE_STATES = ("running", "degraded", "pending", "not_deployed")
# What any other status (words we did not choose) shows anonymous callers.
REPORTED = "reported"
_PUBLIC = (CONNECTED, DISCONNECTED, UNKNOWN, *CLOUDCORE_STATES)
# Components whose trouble makes us "degraded": CloudCore is the cluster's business, and
# its state is shown as it is.
_ESSENTIAL = ("kubernetes", "temporal", "mqtt")


class Overall(StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"  # the database is gone: nothing useful can be answered


@dataclass(frozen=True, kw_only=True)
class ComponentReport:
    status: str
    mode: str | None = None
    detail: str | None = None
    checked_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class HealthSnapshot:
    status: Overall
    timestamp: datetime
    version: str
    components: dict[str, ComponentReport]


def api_version() -> str:
    return package_version()


async def collect(state: AppState) -> HealthSnapshot:
    now = datetime.now(UTC)
    database, rows = await _probe_database(state, now=now)
    by_name = {row.name: row for row in rows}
    kubernetes = worker_report(by_name.get("kubernetes"), now=now)
    components = {
        "kubernetes": kubernetes,
        "cloudcore": worker_report(by_name.get("cloudcore"), now=now),
        "database": database,
        "temporal": await _probe_temporal(state, now=now),
        "mqtt": worker_report(by_name.get("mqtt"), now=now),
    }
    return HealthSnapshot(
        status=overall(components), timestamp=now, version=api_version(), components=components
    )


def public_state(status: str) -> str:
    """A status fit for anonymous callers: one of our words, never the worker's text."""
    return status if status in _PUBLIC else REPORTED


def overall(components: dict[str, ComponentReport]) -> Overall:
    if components["database"].status != CONNECTED:
        return Overall.UNHEALTHY
    if any(components[name].status != CONNECTED for name in _ESSENTIAL):
        return Overall.DEGRADED
    return Overall.HEALTHY


def worker_report(row: ComponentHealth | None, *, now: datetime) -> ComponentReport:
    if row is None:
        return ComponentReport(status=UNKNOWN, detail="the worker has not reported yet")
    if now - row.checked_at > STALE_AFTER:
        age = int((now - row.checked_at).total_seconds())
        return ComponentReport(
            status=UNKNOWN,
            mode=row.mode,
            detail=f"the worker last reported {age}s ago (said: {row.status})",
            checked_at=row.checked_at,
        )
    return ComponentReport(
        status=row.status, mode=row.mode, detail=row.detail, checked_at=row.checked_at
    )


async def _probe_database(
    state: AppState, *, now: datetime
) -> tuple[ComponentReport, Sequence[ComponentHealth]]:
    # A session of its own, not SessionDep: a dead database must become a report,
    # not a failed request.
    try:
        async with state.sessions() as session:
            await session.execute(text("SELECT 1"))
            rows = await read_health(session)
    except Exception as err:
        logger.warning("health: database probe failed: %s", type(err).__name__)
        failed = ComponentReport(status=DISCONNECTED, detail=type(err).__name__, checked_at=now)
        return failed, ()
    return ComponentReport(status=CONNECTED, checked_at=now), rows


async def _probe_temporal(state: AppState, *, now: datetime) -> ComponentReport:
    if state.temporal.client is None:
        detail = "not connected yet; reconnecting in the background"
        return ComponentReport(status=DISCONNECTED, detail=detail, checked_at=now)
    serving = await state.temporal.check_health()
    return ComponentReport(
        status=CONNECTED if serving else DISCONNECTED,
        detail=None if serving else "connected once, but the health check failed",
        checked_at=now,
    )
