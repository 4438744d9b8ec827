"""A populated inventory for backup tests, and an exact picture of it to compare against.

`populate` joins devices the way the join saga leaves them: inventory rows, join-token
hashes, runtime config, and the device's ConfigMap, Device resource and RBAC objects made
by the real KubeActivities. `picture` reads everything back with plain queries and the
official client, independently of the backup code under test.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from kubernetes import client
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import ActivityEnvironment

from activities.join.kubernetes import KubeActivities
from adapters.kubernetes.client import KubeTarget
from store.devices import inventory as devices
from store.devices import tokens
from store.models import Device, JoinToken, RuntimeConfigRow
from store.runtime_config import save_runtime_config
from store.settings import Settings
from workflows.contracts.common import MANAGED_BY, MANAGED_BY_LABEL
from workflows.contracts.join import DeviceResourceInput, EdgecoreConfigMapInput, NodeRbacInput

_activity_env = ActivityEnvironment()
T0 = datetime(2026, 1, 15, 10, 30, tzinfo=UTC)


def device_names(prefix: str, count: int) -> list[tuple[str, str]]:
    return [(f"{prefix}-cam-{i:03d}", f"{prefix}-node-{i:03d}") for i in range(count)]


async def populate(
    sessions: async_sessionmaker[AsyncSession],
    *,
    settings: Settings,
    kube: KubeTarget | None,
    prefix: str,
    count: int = 4,
) -> None:
    async with sessions() as session, session.begin():
        await save_runtime_config(
            session, changes={"max_devices": 500, "require_tls": True}, settings=settings
        )
        for index, (device_id, node_name) in enumerate(device_names(prefix, count)):
            await devices.upsert_device(
                session,
                device_id=device_id,
                node_name=node_name,
                status="joined" if index % 2 else "waiting_for_node",
                device_type="camera",
                location=f"Dock {index}, north wall",
                configuration={"fps": 15 + index, "night_mode": bool(index % 2), "ratio": 1.5},
                workflow_id=f"device-join/{device_id}",
            )
            token_id = str(uuid.uuid4())
            await tokens.record_token(
                session,
                token_id=token_id,
                token=f"token-{uuid.uuid4()}",
                node_name=node_name,
                device_id=device_id,
                expires_at=T0 + timedelta(days=1),
                description=f"join of device {device_id}",
            )
            if index % 2:
                await devices.set_status(
                    session, device_id=device_id, status="joined", joined_at=T0
                )
                await tokens.mark_used(session, token_id=token_id)
    if kube is not None:
        acts = KubeActivities(target=kube)
        for device_id, node_name in device_names(prefix, count):
            for call, arg in kube_inputs(settings, device_id=device_id, node_name=node_name):
                _activity_env.run(getattr(acts, call), arg)


def kube_inputs(settings: Settings, *, device_id: str, node_name: str) -> list[tuple[str, Any]]:
    return [
        (
            "apply_edgecore_configmap",
            EdgecoreConfigMapInput(
                device_id=device_id,
                node_name=node_name,
                namespace=settings.kubeedge_namespace,
                cloudcore_host="10.0.0.5",
                cloudcore_port=10000,
                device_type="camera",
                configuration={"fps": 15},
            ),
        ),
        (
            "apply_device_resource",
            DeviceResourceInput(
                device_id=device_id,
                node_name=node_name,
                namespace=settings.device_namespace,
                device_type="camera",
                location="Dock 4",
            ),
        ),
        (
            "apply_node_rbac",
            NodeRbacInput(node_name=node_name, namespace=settings.kubeedge_namespace),
        ),
    ]


async def picture(
    sessions: async_sessionmaker[AsyncSession],
    *,
    settings: Settings,
    api_client: client.ApiClient | None,
) -> dict[str, Any]:
    """Every row of the backed-up tables (without surrogate ids) and every owned object."""
    found: dict[str, Any] = {}
    async with sessions() as session:
        for model, key in (
            (RuntimeConfigRow, "key"),
            (JoinToken, "token_id"),
            (Device, "device_id"),
        ):
            rows = (await session.scalars(select(model))).all()
            found[model.__tablename__] = sorted(
                (_row(row) for row in rows), key=lambda row: str(row[key])
            )
    if api_client is not None:
        found["kubernetes"] = _objects(api_client, settings)
    return found


def _row(row: Any) -> dict[str, Any]:
    values = {column.key: getattr(row, column.key) for column in row.__table__.columns}
    values.pop("id", None)
    return json.loads(json.dumps(values, default=str))


def _objects(api_client: client.ApiClient, settings: Settings) -> dict[str, list[Any]]:
    core = client.CoreV1Api(api_client)
    rbac = client.RbacAuthorizationV1Api(api_client)
    custom = client.CustomObjectsApi(api_client)
    ns, device_ns = settings.kubeedge_namespace, settings.device_namespace
    listings = {
        "configmaps": core.list_namespaced_config_map(ns, _preload_content=False),
        "roles": rbac.list_namespaced_role(ns, _preload_content=False),
        "rolebindings": rbac.list_namespaced_role_binding(ns, _preload_content=False),
        "devices": custom.list_namespaced_custom_object(
            "devices.kubeedge.io", "v1beta1", device_ns, "devices", _preload_content=False
        ),
    }
    pictured = {}
    for name, response in listings.items():
        items = json.loads(response.data).get("items") or []
        ours = [
            {
                "name": item["metadata"]["name"],
                "labels": item["metadata"].get("labels"),
                "annotations": item["metadata"].get("annotations"),
                "body": {
                    key: item.get(key) for key in ("data", "spec", "rules", "roleRef", "subjects")
                },
            }
            for item in items
            if (item["metadata"].get("labels") or {}).get(MANAGED_BY_LABEL) == MANAGED_BY
        ]
        pictured[name] = sorted(ours, key=lambda item: item["name"])
    return pictured
