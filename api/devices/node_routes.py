"""Edge API contract: nodes (`/api/v1/nodes`).

A node is a row of the one device inventory: registering here makes it appear in the
CloudCore API's device list too, and a device joined there is a node here. Users and API
keys act by role; a node's own security token may read its node and report its status.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, status
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StringConstraints
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.deps import SessionDep, SettingsDep, TemporalDep
from api.core.errors import ApiError
from api.core.pagination import PageDep, pagination
from api.devices.capacity import check_capacity
from api.devices.node_access import CallerDep, EdgeOperator, require_node_or_role, require_user
from api.devices.node_schemas import NodeDetail, NodeList, NodeSummary, node_detail, node_summary
from api.devices.removal_service import removal_input, removal_outcome, run_details
from api.join.keadm import is_valid_host
from store.access.users import Role
from store.devices import inventory as devices
from store.devices import nodes
from store.models import Device, utcnow
from store.runtime_config import load_runtime_config
from workflows.contracts.common import DeviceId, NodeName, PrintableText, is_dns1123_label

router = APIRouter(prefix="/api/v1", tags=["nodes"])

NodeIdPath = Annotated[str, Path(max_length=64, description="The node's id")]
Capability = Annotated[PrintableText, StringConstraints(min_length=1, max_length=64)]
Key = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,252}$")]
Scalar = Annotated[str, StringConstraints(max_length=253)] | int | float | bool
NodeState = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z_-]{0,31}$")]


def _host(value: str) -> str:
    if not is_valid_host(value):
        raise ValueError("must be an IP address or a DNS name")
    return value


class RegisterRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: NodeName
    address: Annotated[str, AfterValidator(_host)] | None = None
    capabilities: list[Capability] = Field(default_factory=list, max_length=64)
    resources: dict[Key, Scalar] = Field(default_factory=dict, max_length=64)
    labels: dict[Key, Annotated[PrintableText, StringConstraints(max_length=253)]] = Field(
        default_factory=dict, max_length=64
    )
    device_id: DeviceId | None = Field(
        default=None, description="The device's id in the CloudCore API; default from name"
    )


class Registered(BaseModel):
    id: str
    name: str
    address: str | None
    status: str
    registered_at: datetime
    device_id: str


class StatusReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: NodeState | None = Field(default=None, examples=["active"])
    heartbeat: StrictBool = False
    resources: dict[Key, Scalar] | None = Field(
        default=None, max_length=64, description="Usage: cpu_usage, memory_usage, ..."
    )


class Removed(BaseModel):
    success: bool = Field(description="true once removed; false with 202 (still removing)")
    message: str
    # ours
    status: str = Field(description='"success", or "accepted" with 202')
    actions_taken: list[str]
    workflow_id: str
    temporal_ui_url: str
    status_url: str = Field(description="The node: a 404 there once the removal is done")


def device_id_for(name: str) -> str:
    """A node's device_id: its name when that is a DNS-1123 label, else a readable slug
    plus a hash of the name (names may hold dots and reach 253 characters)."""
    if is_dns1123_label(name):
        return name
    slug = name.replace(".", "-")[:50].strip("-")
    return f"{slug}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


async def _node(session: AsyncSession, node_id: str) -> Device:
    row = await devices.get_by_node_id(session, node_id=node_id)
    if row is None:
        raise ApiError(404, f"No node {node_id}", details={"node_id": node_id})
    return row


@router.post(
    "/nodes",
    response_model=Registered,
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "Name or device taken, or the device maximum reached"}},
)
async def register(
    body: RegisterRequest, caller: CallerDep, session: SessionDep, settings: SettingsDep
) -> Registered:
    await require_user(caller, Role.OPERATOR)
    device_id = body.device_id or device_id_for(body.name)
    owner = await devices.node_owner(session, node_name=body.name)
    if owner is not None or await devices.get_device(session, device_id=device_id):
        raise ApiError(
            409,
            f"A node named {body.name} or a device {device_id} is already registered",
            details={"name": body.name, "device_id": device_id},
        )
    config = await load_runtime_config(session, settings=settings)
    await check_capacity(session, config=config, device_id=None)
    row = await nodes.register_node(
        session,
        device_id=device_id,
        node_name=body.name,
        address=body.address,
        capabilities=list(body.capabilities),
        resources=dict(body.resources),
        labels=dict(body.labels),
    )
    return Registered(
        id=row.node_id,
        name=row.node_name,
        address=row.address,
        status=nodes.REGISTERED,
        registered_at=row.created_at,
        device_id=row.device_id,
    )


@router.get("/nodes", response_model=NodeList)
async def list_nodes(caller: CallerDep, session: SessionDep, page: PageDep) -> NodeList:
    await require_user(caller, Role.VIEWER)
    rows, total = await devices.list_summaries(session, offset=page.offset, limit=page.limit)
    return NodeList(
        nodes=[node_summary(row) for row in rows], pagination=pagination(page, total=total)
    )


@router.get("/nodes/{node_id}", response_model=NodeDetail)
async def get_node(node_id: NodeIdPath, caller: CallerDep, session: SessionDep) -> NodeDetail:
    await require_node_or_role(caller, node_id=node_id, role=Role.VIEWER)
    return node_detail(await _node(session, node_id), now=utcnow())


@router.put("/nodes/{node_id}/status", response_model=NodeSummary)
async def report_status(
    node_id: NodeIdPath, body: StatusReport, caller: CallerDep, session: SessionDep
) -> NodeSummary:
    await require_node_or_role(caller, node_id=node_id, role=Role.OPERATOR)
    if body.status is None and not body.heartbeat and body.resources is None:
        raise ApiError(
            400,
            "Nothing to report: give status, heartbeat: true or resources",
            details={"body": "no field given"},
        )
    await _node(session, node_id)
    await nodes.report_status(
        session,
        node_id=node_id,
        status=body.status,
        heartbeat_at=utcnow() if body.heartbeat else None,
        usage=dict(body.resources) if body.resources is not None else None,
    )
    row = await _node(session, node_id)
    await session.refresh(row)
    return node_summary(row)


@router.delete(
    "/nodes/{node_id}",
    response_model=Removed,
    responses={
        202: {
            "model": Removed,
            "description": 'Removal still running: status "accepted", success false; the '
            "same DELETE attaches to it",
        }
    },
)
async def remove_node(
    node_id: NodeIdPath,
    _operator: EdgeOperator,  # before TemporalDep: a wrong caller is 403 even then
    session: SessionDep,
    settings: SettingsDep,
    client: TemporalDep,
) -> Any:
    row = await _node(session, node_id)
    inp = removal_input(
        settings, device_id=row.device_id, node_name=row.node_name, node_id=row.node_id
    )
    progress, finished = await removal_outcome(client, settings=settings, inp=inp)
    answer = Removed(
        success=finished,
        message="Node successfully removed" if finished else "Node removal is still running",
        status="success" if finished else "accepted",
        actions_taken=progress.actions_taken,
        **run_details(settings, row.device_id),
        status_url=f"/api/v1/nodes/{row.node_id}",
    )
    if not finished:
        return JSONResponse(answer.model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED)
    return answer
