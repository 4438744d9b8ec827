"""The CloudCore document's device shapes, built from an inventory row.

Everything comes from the store: the row, the node facts the worker last read, and what
the node reported. Where nothing is known the answer says null rather than guessing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from api.core.humanize import age
from api.core.listing import ListPagination
from api.devices.heartbeats import apps_of, is_online, last_heartbeat, latest_usage, shown
from store.devices.inventory import DeviceSummary
from store.models import Device

NodeState = Literal["Ready", "NotReady"]


class Address(BaseModel):
    type: str
    address: str


class DeviceItem(BaseModel):
    node_name: str
    device_id: str
    status: NodeState = Field(description="From the Node's Ready condition; NotReady if none")
    roles: list[str]
    age: str | None
    version: str | None = Field(description="The Node's kubelet version")
    pods_count: int
    addresses: list[Address]
    # ours
    node_id: str = Field(description="The same node's id in the Edge API (/api/v1/nodes)")
    join_status: str = Field(description="waiting_for_node, joined, registered, ...")
    device_type: str | None
    location: str | None
    observed_at: datetime | None = Field(description="When the worker last read the Node")


class DeviceList(BaseModel):
    count: int = Field(description="Devices in this answer; all of them is pagination.total")
    devices: list[DeviceItem]
    pagination: ListPagination


class DeviceStatus(BaseModel):
    online: bool = Field(description="Heartbeating over MQTT, Node Ready, or reported lately")
    last_heartbeat: datetime | None = Field(
        description="Newest of the MQTT heartbeat, the Edge API report and the Node's"
    )
    cpu_usage: str | None = Field(examples=["45%"])
    memory_usage: str | None = Field(examples=["2.3GB/8GB"])
    temperature: str | None = Field(examples=["65°C"])
    # ours
    node_status: NodeState
    apps: list[dict[str, Any]] | None = Field(
        default=None, description="What the last heartbeat listed as running; null if nothing"
    )
    usage_reported_at: datetime | None = Field(
        default=None, description="When the readings above were reported"
    )


class Application(BaseModel):
    name: str | None
    status: str | None
    image: str | None
    port: int | None
    namespace: str | None = None


class Metrics(BaseModel):
    uptime: str | None = Field(description="Since the Node last turned Ready")
    total_detections: int = Field(description="Detections the device reported today (UTC)")
    average_latency: str | None = Field(
        description="Mean command round trip (sent to answered) of its latest commands; "
        "null before it answered any",
        examples=["45ms"],
    )


class DeviceDetail(BaseModel):
    device_id: str
    node_name: str
    device_status: DeviceStatus
    configuration: dict[str, Any]
    applications: list[Application]
    metrics: Metrics
    # ours
    node_id: str
    join_status: str
    device_type: str | None
    location: str | None
    roles: list[str]
    version: str | None
    addresses: list[Address]
    pods_count: int
    created_at: datetime
    joined_at: datetime | None
    observed_at: datetime | None


def node_state(row: DeviceSummary) -> NodeState:
    return "Ready" if row.node_ready else "NotReady"


def _addresses(row: DeviceSummary) -> list[Address]:
    return [Address.model_validate(a) for a in row.node_addresses or []]


def latency_text(milliseconds: float | None) -> str | None:
    return None if milliseconds is None else f"{round(milliseconds)}ms"


def device_detail(
    row: Device, *, now: datetime, detections_today: int, latency_ms: float | None
) -> DeviceDetail:
    usage, reported_at = latest_usage(row)
    return DeviceDetail(
        device_id=row.device_id,
        node_name=row.node_name,
        device_status=DeviceStatus(
            online=is_online(row, now=now),
            last_heartbeat=last_heartbeat(row),
            **shown(usage),
            node_status=node_state(row),
            apps=apps_of(row.presence_usage or {}),
            usage_reported_at=reported_at,
        ),
        configuration=dict(row.configuration or {}),
        applications=[Application.model_validate(app) for app in row.node_apps or []],
        metrics=Metrics(
            uptime=age(row.node_ready_since, now=now) if row.node_ready else None,
            total_detections=detections_today,
            average_latency=latency_text(latency_ms),
        ),
        node_id=row.node_id,
        join_status=row.status,
        device_type=row.device_type,
        location=row.location,
        roles=list(row.node_roles or []),
        version=row.node_version,
        addresses=_addresses(row),
        pods_count=row.node_pods or 0,
        created_at=row.created_at,
        joined_at=row.joined_at,
        observed_at=row.node_synced_at,
    )
