"""The Edge API document's node shapes, built from the same inventory row as a device."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from api.core.pagination import Pagination
from api.devices.heartbeats import apps_of, is_online, last_heartbeat, latest_usage
from store.devices.inventory import DeviceSummary
from store.devices.nodes import REGISTERED
from store.models import Device


class NodeSummary(BaseModel):
    id: str
    name: str
    address: str | None
    status: str
    last_heartbeat: datetime | None


class NodeList(BaseModel):
    nodes: list[NodeSummary]
    pagination: Pagination


class NodeDetail(NodeSummary):
    capabilities: list[str]
    resources: dict[str, Any]
    labels: dict[str, Any]
    registered_at: datetime
    # ours
    device_id: str = Field(description="The same device in the CloudCore API")
    ready: bool | None = Field(description="The Node's Ready condition; null if no Node")
    online: bool = Field(description="Heartbeating over MQTT, Node Ready, or reported lately")
    usage: dict[str, Any] | None = Field(
        description="Resource usage the node last reported, by MQTT heartbeat or status report"
    )
    usage_reported_at: datetime | None
    apps: list[dict[str, Any]] | None = Field(
        description="What the last heartbeat listed as running; null if nothing"
    )


def edge_status(row: DeviceSummary) -> str:
    """What the node last reported; otherwise what its Node and its join say.

    registered: known only from POST /nodes; active / inactive: the Node is (not) Ready;
    pending: joined through /api/kubeedge, its Node has not registered yet.
    """
    if row.reported_status:
        return row.reported_status
    if row.status == REGISTERED and row.node_ready is None:
        return REGISTERED
    if row.node_ready is None:
        return "pending"
    return "active" if row.node_ready else "inactive"


def address_of(row: DeviceSummary) -> str | None:
    if row.address:
        return row.address
    addresses = row.node_addresses or []
    internal = [a["address"] for a in addresses if a.get("type") == "InternalIP"]
    known = internal or [a["address"] for a in addresses]
    return known[0] if known else None


def node_summary(row: DeviceSummary) -> NodeSummary:
    return NodeSummary(
        id=row.node_id,
        name=row.node_name,
        address=address_of(row),
        status=edge_status(row),
        last_heartbeat=last_heartbeat(row),
    )


def node_detail(row: Device, *, now: datetime) -> NodeDetail:
    usage, reported_at = latest_usage(row)
    return NodeDetail(
        **node_summary(row).model_dump(),
        capabilities=list(row.capabilities or []),
        resources=dict(row.resources or {}),
        labels=dict(row.labels or {}),
        registered_at=row.created_at,
        device_id=row.device_id,
        ready=row.node_ready,
        online=is_online(row, now=now),
        usage={key: value for key, value in usage.items() if key != "apps"} or None,
        usage_reported_at=reported_at,
        apps=apps_of(row.presence_usage or {}),
    )
