"""Edge API contract: node metrics (`/api/v1/metrics`).

A node's own security token may post and read its own node's metrics; users and API keys
act by role (operators post, viewers read). Bad timeframes, resolutions and bodies are
400s that name what is allowed; an unknown node is a 404, both in the /api/v1 envelope.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from api.core.deps import SessionDep, SettingsDep
from api.core.envelopes import EdgeError
from api.core.errors import ApiError
from api.devices.node_access import (
    Caller,
    CallerDep,
    NodeCaller,
    require_node_or_role,
    require_user,
)
from api.monitoring import service
from api.monitoring.batcher import app_batcher
from api.monitoring.schemas import FleetMetrics, MetricsReport, NodeMetrics, Recorded
from api.monitoring.windows import window
from store.access.users import Role
from store.devices import inventory as devices
from store.models import Device, utcnow
from store.monitoring.config import metrics_retention

router = APIRouter(prefix="/api/v1", tags=["metrics"])

NodeIdPath = Annotated[str, Path(max_length=64, description="The node's id")]
Timeframe = Annotated[
    str | None, Query(max_length=8, description="1h, 24h, 7d or 30d (default 1h)")
]
Resolution = Annotated[str | None, Query(max_length=8, description="1m, 5m or 1h (default 5m)")]
_ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": EdgeError, "description": "Bad body, timeframe or resolution"},
    401: {"model": EdgeError, "description": "No valid credentials"},
    403: {"model": EdgeError, "description": "Another node's token, or too low a role"},
    404: {"model": EdgeError, "description": "No such node"},
}
_POST_ERRORS: dict[int | str, dict[str, object]] = {
    **_ERRORS,
    503: {
        "model": EdgeError,
        "description": "The sample was not stored (store failed, or too many waiting); "
        "retry after Retry-After",
        "headers": {
            "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}
        },
    },
}


async def _node(session: SessionDep, node_id: str) -> Device:
    row = await devices.get_by_node_id(session, node_id=node_id)
    if row is None:
        raise ApiError(404, f"No node {node_id}", details={"node_id": node_id})
    return row


async def _require_node(session: SessionDep, caller: Caller, node_id: str) -> None:
    """The 404 for an unknown node. A node's own token was verified together with its
    node (one read), so a node posting for itself costs no second read."""
    if isinstance(caller, NodeCaller) and caller.node_id == node_id:
        return
    await _node(session, node_id)


@router.post("/metrics/nodes/{node_id}", response_model=Recorded, responses=_POST_ERRORS)
async def record_node_metrics(
    request: Request,
    node_id: NodeIdPath,
    body: MetricsReport,
    caller: CallerDep,
    session: SessionDep,
    settings: SettingsDep,
) -> Recorded:
    await require_node_or_role(caller, node_id=node_id, role=Role.OPERATOR)
    ts = service.sample_time(
        body,
        now=utcnow(),
        retention=metrics_retention(settings),
        max_future_seconds=settings.metrics_max_future_seconds,
    )
    await _require_node(session, caller, node_id)
    # Written by the app's batcher in a transaction of its own, shared with concurrent POSTs.
    # End this request's transaction first: waiting while holding its pooled connection
    # (and on SQLite any lock it took) would starve the batcher's write.
    await session.commit()
    recorded_at = await service.record(app_batcher(request.app), node_id=node_id, body=body, ts=ts)
    return Recorded(success=True, recorded_at=recorded_at)


@router.get("/metrics/nodes/{node_id}", response_model=NodeMetrics, responses=_ERRORS)
async def node_metrics(
    node_id: NodeIdPath,
    caller: CallerDep,
    session: SessionDep,
    settings: SettingsDep,
    timeframe: Timeframe = None,
    resolution: Resolution = None,
) -> NodeMetrics:
    await require_node_or_role(caller, node_id=node_id, role=Role.VIEWER)
    asked = window(
        timeframe=timeframe,
        resolution=resolution,
        retention=metrics_retention(settings),
        now=int(utcnow().timestamp()),
    )
    return await service.node_metrics(session, node=await _node(session, node_id), window=asked)


@router.get("/metrics", response_model=FleetMetrics, responses=_ERRORS)
async def fleet_metrics(
    caller: CallerDep,
    session: SessionDep,
    settings: SettingsDep,
    timeframe: Timeframe = None,
    resolution: Resolution = None,
) -> FleetMetrics:
    await require_user(caller, Role.VIEWER)
    retention = metrics_retention(settings)
    asked = window(
        timeframe=timeframe,
        resolution=resolution,
        retention=retention,
        now=int(utcnow().timestamp()),
    )
    return await service.fleet_metrics(session, window=asked, retention=retention)
