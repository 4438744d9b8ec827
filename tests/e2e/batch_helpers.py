"""Start batches over HTTP and count what a batch left in the sandbox and the store.

Counts are by the test's tag (a random part of every node and device name), so tests
that share the session-wide sandbox and store see only their own objects. Pass the
sandbox's own client, not one behind a fault proxy, so that counting is never faulted.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from kubernetes import client as k8s
from sqlalchemy import select

from store.models import Device, JoinToken
from tests.e2e.stack import Stack
from tests.support.helpers import eventually, polled
from workflows.contracts.common import MANAGED_BY, MANAGED_BY_LABEL

KUBEEDGE_NAMESPACE = "kubeedge"
DEVICE_NAMESPACE = "default"


def devices(count: int, *, tag: str) -> list[dict[str, Any]]:
    return [
        {
            "node_name": f"{tag}-node-{i:04d}",
            "device_id": f"{tag}-dev-{i:04d}",
            "device_type": "camera",
        }
        for i in range(1, count + 1)
    ]


async def start_batch(
    stack: Stack, auth: dict[str, str], body: list[dict[str, Any]], *, window: int
) -> str:
    """POST a batch large enough to run in the background; its batch ID."""
    answer = await stack.http.post(
        "/api/kubeedge/batch-join",
        json={"devices": body, "max_concurrency": window},
        headers=auth,
    )
    assert answer.status_code == 202, answer.text
    accepted: dict[str, Any] = answer.json()
    assert accepted["status_url"] == f"/api/kubeedge/batch-join/{accepted['batch_id']}"
    return str(accepted["batch_id"])


async def wait_done(
    stack: Stack, batch_id: str, auth: dict[str, str], *, within: float = 240
) -> dict[str, Any]:
    async def finished() -> dict[str, Any] | None:
        body = await batch_status(stack, batch_id, auth)
        return body if body is not None and body["status"] in ("completed", "cancelled") else None

    return await eventually(finished, within=within)


async def batch_status(stack: Stack, batch_id: str, auth: dict[str, str]) -> dict[str, Any] | None:
    """The batch's report for a poll; None while the store or Temporal was busy (503)."""
    body: dict[str, Any] | None = polled(
        await stack.http.get(f"/api/kubeedge/batch-join/{batch_id}", headers=auth)
    )
    return body


def our_configmaps(api: k8s.ApiClient, tag: str) -> Counter[str]:
    items = k8s.CoreV1Api(api).list_namespaced_config_map(KUBEEDGE_NAMESPACE).items
    return Counter(
        cm.metadata.name
        for cm in items
        if (cm.metadata.labels or {}).get(MANAGED_BY_LABEL) == MANAGED_BY
        and tag in cm.metadata.name
    )


def our_devices(api: k8s.ApiClient, tag: str) -> Counter[str]:
    """Device custom resources of this test, by name (each should appear once)."""
    listing = k8s.CustomObjectsApi(api).list_namespaced_custom_object(
        "devices.kubeedge.io", "v1beta1", DEVICE_NAMESPACE, "devices"
    )
    return Counter(
        item["metadata"]["name"] for item in listing["items"] if tag in item["metadata"]["name"]
    )


def our_rbac(api: k8s.ApiClient, tag: str) -> Counter[str]:
    """Roles and RoleBindings of this test's nodes, by kind and name."""
    rbac = k8s.RbacAuthorizationV1Api(api)
    roles = rbac.list_namespaced_role(KUBEEDGE_NAMESPACE).items
    bindings = rbac.list_namespaced_role_binding(KUBEEDGE_NAMESPACE).items
    return Counter(
        [f"Role/{r.metadata.name}" for r in roles if tag in r.metadata.name]
        + [f"RoleBinding/{b.metadata.name}" for b in bindings if tag in b.metadata.name]
    )


def our_mqtt_secrets(api: k8s.ApiClient, tag: str) -> Counter[str]:
    """This test's devices' MQTT Secrets (`edgecore-mqtt-{node}`), by name."""
    items = k8s.CoreV1Api(api).list_namespaced_secret(KUBEEDGE_NAMESPACE).items
    return Counter(
        secret.metadata.name
        for secret in items
        if secret.metadata.name.startswith("edgecore-mqtt-") and tag in secret.metadata.name
    )


def other_secrets(api: k8s.ApiClient, tag: str) -> int:
    """Secrets in every namespace but this test's devices' MQTT ones: a join creates no
    other, so this must not move."""
    names = [s.metadata.name for s in k8s.CoreV1Api(api).list_secret_for_all_namespaces().items]
    return sum(1 for name in names if not (name.startswith("edgecore-mqtt-") and tag in name))


async def live_tokens(stack: Stack, tag: str) -> int:
    """Tokens of this test's devices that are neither revoked nor used."""
    async with stack.sessions() as session:
        rows = (
            await session.scalars(select(JoinToken.device_id).where(JoinToken.revoked_at.is_(None)))
        ).all()
    return sum(1 for device in rows if device and tag in device)


async def tokens_per_device(stack: Stack, tag: str) -> Counter[str]:
    async with stack.sessions() as session:
        rows = (await session.scalars(select(JoinToken.device_id))).all()
    return Counter(device for device in rows if device and tag in device)


async def inventory_rows(stack: Stack, tag: str) -> Counter[str]:
    async with stack.sessions() as session:
        rows = (await session.scalars(select(Device.device_id))).all()
    return Counter(device for device in rows if tag in device)


async def assert_each_joined_once(
    stack: Stack, sandbox: k8s.ApiClient, tag: str, *, devices: int, secrets_before: int
) -> None:
    """Every device of the test joined exactly once: one ConfigMap, Device, Role and
    RoleBinding, MQTT Secret, live token and inventory row each, and no other Secret."""
    configmaps = await asyncio.to_thread(our_configmaps, sandbox, tag)
    device_crs = await asyncio.to_thread(our_devices, sandbox, tag)
    rbac = await asyncio.to_thread(our_rbac, sandbox, tag)
    mqtt = await asyncio.to_thread(our_mqtt_secrets, sandbox, tag)
    assert (len(configmaps), set(configmaps.values())) == (devices, {1})
    assert (len(device_crs), set(device_crs.values())) == (devices, {1})
    assert len(rbac) == 2 * devices  # a Role and a RoleBinding per node
    assert (len(mqtt), set(mqtt.values())) == (devices, {1}), "one MQTT Secret per device"
    assert await asyncio.to_thread(other_secrets, sandbox, tag) == secrets_before
    tokens = await tokens_per_device(stack, tag)
    assert (len(tokens), set(tokens.values())) == (devices, {1}), "one token per device"
    assert await live_tokens(stack, tag) == devices
    inventory = await inventory_rows(stack, tag)
    assert (len(inventory), set(inventory.values())) == (devices, {1})
