"""GET /api/health (CloudCore's shape) and GET /api/v1/health (the Edge API's shape).

Both are public and report the same probes. They answer 200 while the API can serve
(healthy or degraded) and 503 when the database is gone, so a load balancer can use
either one. Which components are degraded, and whether Kubernetes is the local sandbox,
is in the body.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from api.core.probes import ComponentReport, HealthSnapshot, Overall, collect
from api.core.state import app_state

router = APIRouter(tags=["health"])


class ComponentDetail(BaseModel):
    status: str
    mode: str | None = Field(
        default=None, description='For kubernetes: "sandbox" (local emulator) or "cluster"'
    )
    detail: str | None = None
    checked_at: datetime | None = None


class CloudCoreHealth(BaseModel):
    status: Overall
    timestamp: datetime
    version: str
    components: dict[str, str] = Field(
        description="kubernetes, cloudcore, database, temporal, mqtt: "
        '"connected", "disconnected", "unknown" or what the worker reported'
    )
    details: dict[str, ComponentDetail]


class EdgeHealth(BaseModel):
    status: Overall
    version: str
    timestamp: datetime
    components: dict[str, str]


_UNAVAILABLE_DOC = "The database is unreachable; the body still describes every component"


@router.get(
    "/api/health",
    responses={503: {"model": CloudCoreHealth, "description": _UNAVAILABLE_DOC}},
)
async def cloudcore_health(request: Request, response: Response) -> CloudCoreHealth:
    snapshot = await _snapshot(request, response)
    return CloudCoreHealth(
        status=snapshot.status,
        timestamp=snapshot.timestamp,
        version=snapshot.version,
        components=_statuses(snapshot),
        details={name: _detail(report) for name, report in snapshot.components.items()},
    )


@router.get(
    "/api/v1/health",
    responses={503: {"model": EdgeHealth, "description": _UNAVAILABLE_DOC}},
)
async def edge_health(request: Request, response: Response) -> EdgeHealth:
    snapshot = await _snapshot(request, response)
    return EdgeHealth(
        status=snapshot.status,
        version=snapshot.version,
        timestamp=snapshot.timestamp,
        components=_statuses(snapshot),
    )


async def _snapshot(request: Request, response: Response) -> HealthSnapshot:
    snapshot = await collect(app_state(request.app))
    response.headers["Cache-Control"] = "no-store"  # a cached "healthy" is a lie
    if snapshot.status is Overall.UNHEALTHY:
        response.status_code = 503
    return snapshot


def _statuses(snapshot: HealthSnapshot) -> dict[str, str]:
    return {name: report.status for name, report in snapshot.components.items()}


def _detail(report: ComponentReport) -> ComponentDetail:
    return ComponentDetail(
        status=report.status,
        mode=report.mode,
        detail=report.detail,
        checked_at=report.checked_at,
    )
