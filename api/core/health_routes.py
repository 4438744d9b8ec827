"""GET /api/health (CloudCore's shape) and GET /api/v1/health (the Edge API's shape).

Both are public and report the same probes. They answer 200 while the API can serve
(healthy or degraded) and 503 when the database is gone, so a load balancer can use
either one. Anonymous callers see only each component's state; the details (kubeconfig
path, API server address and version, broker address, whether Kubernetes is the local
sandbox) are for authenticated callers, since they map the deployment for an attacker.
Bad credentials here are not an error: the caller is simply anonymous.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from api.core.authn import authenticate
from api.core.probes import ComponentReport, HealthSnapshot, Overall, collect, public_state
from api.core.state import app_sessions, app_settings, app_state

router = APIRouter(tags=["health"])


class ComponentDetail(BaseModel):
    status: str
    mode: str | None = Field(
        default=None,
        description='For kubernetes and cloudcore: "sandbox" (local emulator) or "cluster"',
    )
    detail: str | None = None
    checked_at: datetime | None = None


_COMPONENTS_DOC = (
    'kubernetes, database, temporal, mqtt: "connected", "disconnected" or "unknown"; '
    'cloudcore: "running", "degraded", "pending", "not_deployed" or "unknown", read from '
    "its Deployment's available replicas"
)


class CloudCoreHealth(BaseModel):
    status: Overall
    timestamp: datetime
    version: str
    components: dict[str, str] = Field(description=_COMPONENTS_DOC)
    details: dict[str, ComponentDetail] = Field(
        description="Per component; empty for anonymous callers"
    )


class EdgeHealth(BaseModel):
    status: Overall
    version: str
    timestamp: datetime
    components: dict[str, str] = Field(description=_COMPONENTS_DOC)


_UNAVAILABLE_DOC = "The database is unreachable; the body still describes every component"


@router.get(
    "/api/health",
    responses={503: {"model": CloudCoreHealth, "description": _UNAVAILABLE_DOC}},
)
async def cloudcore_health(request: Request, response: Response) -> CloudCoreHealth:
    snapshot = await _snapshot(request, response)
    known = await _authenticated(request)
    return CloudCoreHealth(
        status=snapshot.status,
        timestamp=snapshot.timestamp,
        version=snapshot.version,
        components=_statuses(snapshot, known=known),
        details={name: _detail(report) for name, report in snapshot.components.items()}
        if known
        else {},
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
        components=_statuses(snapshot, known=await _authenticated(request)),
    )


async def _snapshot(request: Request, response: Response) -> HealthSnapshot:
    snapshot = await collect(app_state(request.app))
    response.headers["Cache-Control"] = "no-store"  # a cached "healthy" is a lie
    if snapshot.status is Overall.UNHEALTHY:
        response.status_code = 503
    return snapshot


async def _authenticated(request: Request) -> bool:
    """Whether the request carries valid credentials; never raises (health stays public)."""
    authorization = request.headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    bearer = value.strip() or None if scheme.lower() == "bearer" else None
    api_key = request.headers.get("x-api-key")
    if bearer is None and api_key is None:
        return False
    try:
        async with app_sessions(request.app)() as session, session.begin():
            await authenticate(
                session, settings=app_settings(request.app), bearer=bearer, api_key=api_key
            )
    except Exception:  # bad credentials or no database: answer as to anyone
        return False
    return True


def _statuses(snapshot: HealthSnapshot, *, known: bool) -> dict[str, str]:
    return {
        name: report.status if known else public_state(report.status)
        for name, report in snapshot.components.items()
    }


def _detail(report: ComponentReport) -> ComponentDetail:
    return ComponentDetail(
        status=report.status,
        mode=report.mode,
        detail=report.detail,
        checked_at=report.checked_at,
    )
