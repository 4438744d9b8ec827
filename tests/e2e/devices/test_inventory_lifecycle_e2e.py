"""End to end: removing a half-joined device leaves nothing behind; the stored config
applies to joins at once; node facts reach the API through the node sync; a CloudCore
rollout that never completes is rolled back."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from adapters.kubernetes.manifests import node_rbac_name
from store.devices import inventory as devices
from store.devices import node_tokens, tokens
from store.models import NodeToken, utcnow
from tests.e2e.inventory_fixtures import exists, inventory_stack, node_sync
from tests.e2e.stack import Stack
from tests.support.helpers import eventually
from tests.support.kube_fixtures import hold_rollouts, make_node_ready
from tests.support.mqtt_fixtures import Broker
from workflows.contracts.devices import SYNC_NOW_SIGNAL

KE = "/api/kubeedge"


@pytest.fixture
async def stack(
    dev_env: WorkflowEnvironment, kube_sandbox_url: str, mqtt_broker: Broker, tmp_path: Path
) -> AsyncIterator[Stack]:
    async with inventory_stack(dev_env, kube_sandbox_url, mqtt_broker, tmp_path) as running:
        yield running


def names() -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:8]
    return f"cam-{suffix}", f"edge-{suffix}"


async def join(stack: Stack, auth: dict[str, str], device: str, node: str) -> dict[str, Any]:
    answer = await stack.http.post(
        f"{KE}/device/join", json={"node_name": node, "device_id": device}, headers=auth
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def leftovers(api: k8s.ApiClient, *, device: str, node: str) -> list[str]:
    """Every Kubernetes object a join or its node makes that still exists."""
    core, rbac, custom = (
        k8s.CoreV1Api(api),
        k8s.RbacAuthorizationV1Api(api),
        k8s.CustomObjectsApi(api),
    )
    checks = {
        "ConfigMap": (core.read_namespaced_config_map, f"edgecore-config-{node}", "kubeedge"),
        "Role": (rbac.read_namespaced_role, node_rbac_name(node), "kubeedge"),
        "RoleBinding": (rbac.read_namespaced_role_binding, node_rbac_name(node), "kubeedge"),
        "Device": (
            custom.get_namespaced_custom_object,
            "devices.kubeedge.io", "v1beta1", "default", "devices", device,
        ),
        "Node": (core.read_node, node),
    }  # fmt: skip
    return [kind for kind, (read, *args) in checks.items() if exists(read, *args)]


async def test_removing_a_half_joined_device_leaves_nothing_behind(stack: Stack) -> None:
    auth = await stack.login()
    device, node = names()
    await join(stack, auth, device, node)
    # edgecore registered the Node but it never turned Ready: half-joined.
    await asyncio.to_thread(make_node_ready, stack.kube.api_client, node, ready=False)
    node_id = (await stack.http.get(f"{KE}/device/{device}", headers=auth)).json()["node_id"]
    issued = await stack.http.post(
        "/api/v1/security/tokens", json={"node_id": node_id}, headers=auth
    )
    assert issued.status_code == 201
    assert await asyncio.to_thread(leftovers, stack.kube.api_client, device=device, node=node) == [
        "ConfigMap", "Role", "RoleBinding", "Device", "Node"
    ]  # fmt: skip

    removed = await stack.http.delete(f"{KE}/device/{device}", headers=auth)
    assert removed.status_code == 200, removed.text
    assert removed.json()["actions_taken"] == [
        "Join run cancelled",
        "Device CRD deleted",
        "ConfigMap deleted",
        "RBAC removed",
        "Node removed from cluster",
        "Token revoked",
        "Inventory record deleted",
    ]
    assert removed.json()["tokens_revoked"] == {"join_tokens": 0, "node_tokens": 1}

    join_run = await stack.temporal.get_workflow_handle(f"device-join/{device}").describe()
    assert join_run.status == WorkflowExecutionStatus.CANCELED
    assert await asyncio.to_thread(leftovers, stack.kube.api_client, device=device, node=node) == []
    async with stack.sessions() as session:
        assert await devices.get_device(session, device_id=device) is None
        join_tokens, _ = await tokens.list_tokens(
            session, offset=0, limit=10, now=utcnow(), node_name=node
        )
        node_token = await node_tokens.find_node_token(session, token=issued.json()["token"])
    # Nothing usable is left: the join's token was revoked when the join was undone, the
    # node's security token by the removal; both rows remain as records of that.
    assert [tokens.token_status(t, now=utcnow()) for t in join_tokens] == ["revoked"]
    assert isinstance(node_token, NodeToken)
    assert node_token.revoked_at is not None

    for again in (
        await stack.http.get(f"{KE}/device/{device}", headers=auth),
        await stack.http.delete(f"{KE}/device/{device}", headers=auth),
    ):
        assert again.status_code == 404
        assert again.json()["code"] == "API-004"


async def test_stored_config_applies_to_the_next_join(stack: Stack) -> None:
    auth = await stack.login()
    first, second = names(), names()
    put = await stack.http.put(
        f"{KE}/config", json={"token_expiry": 2, "max_devices": 1}, headers=auth
    )
    assert put.status_code == 200
    asked = utcnow().replace(microsecond=0)
    answer = await join(stack, auth, *first)
    expires = datetime.fromisoformat(answer["token_expires_at"])
    assert asked + timedelta(hours=2) <= expires <= utcnow() + timedelta(hours=2)

    full = await stack.http.post(
        f"{KE}/device/join", json={"device_id": second[0], "node_name": second[1]}, headers=auth
    )
    assert full.status_code == 409
    assert full.json()["code"] == "API-005"
    assert full.json()["details"] == {"max_devices": 1, "devices": 1}
    again = await stack.http.post(
        f"{KE}/device/join", json={"device_id": first[0], "node_name": first[1]}, headers=auth
    )
    assert again.status_code == 200  # the same join again adds nothing

    await stack.http.put(f"{KE}/config", json={"max_devices": None}, headers=auth)
    await join(stack, auth, *second)


async def test_node_facts_and_used_tokens_come_from_the_node_sync(stack: Stack) -> None:
    auth = await stack.login()
    device, node = names()
    await join(stack, auth, device, node)
    spare = await stack.http.post(f"{KE}/token/generate", json={"node_name": node}, headers=auth)
    assert spare.json()["device_id"] == device
    await asyncio.to_thread(make_node_ready, stack.kube.api_client, node)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"app-{node}", "namespace": "default"},
        "spec": {"nodeName": node, "containers": [{"name": "app", "image": "edge-app:1"}]},
        "status": {"phase": "Running"},
    }
    core = k8s.CoreV1Api(stack.kube.api_client)
    await asyncio.to_thread(core.create_namespaced_pod, "default", pod, _preload_content=False)

    async with node_sync(stack) as sync:
        await sync.signal(SYNC_NOW_SIGNAL)

        async def synced() -> dict[str, Any] | None:
            listing = (await stack.http.get(f"{KE}/devices", headers=auth)).json()
            row: dict[str, Any] = next(d for d in listing["devices"] if d["device_id"] == device)
            return row if row["pods_count"] == 1 else None

        row = await eventually(synced)
    assert row["status"] == "Ready"
    assert row["roles"] == ["agent", "edge"]
    assert row["version"] == "v1.30.7-kubeedge-v1.21.0"
    detail = (await stack.http.get(f"{KE}/device/{device}", headers=auth)).json()
    assert detail["applications"][0]["image"] == "edge-app:1"
    assert detail["device_status"]["online"] is True
    listed = (await stack.http.get(f"{KE}/tokens?node_name={node}", headers=auth)).json()
    assert {t["status"] for t in listed["tokens"]} == {"used"}  # the join's and the spare


@pytest.fixture
async def short_rollout_stack(
    dev_env: WorkflowEnvironment, kube_sandbox_url: str, mqtt_broker: Broker, tmp_path: Path
) -> AsyncIterator[Stack]:
    async with inventory_stack(
        dev_env,
        kube_sandbox_url,
        mqtt_broker,
        tmp_path,
        kubeedge_namespace=f"kubeedge-{uuid.uuid4().hex[:8]}",
        # The sandbox rolls out in about 1 s (0.5 s ticks); a good deploy under 2-core load
        # needs room, and a held one's answer (this wait, then the restore) must still come
        # well within the 20 s answer timeout.
        cloudcore_rollout_timeout_seconds=8,
    ) as running:
        yield running


async def test_a_rollout_that_never_completes_is_rolled_back(short_rollout_stack: Stack) -> None:
    stack = short_rollout_stack
    auth = await stack.login()
    namespace = stack.settings.kubeedge_namespace
    apps = k8s.AppsV1Api(stack.kube.api_client)

    # Nothing there before, and its pods would never become ready (the sandbox's
    # Deployment controller is told so): a failed first deploy leaves nothing there.
    await asyncio.to_thread(hold_rollouts, stack.kube.api_client, namespace)
    failed = await stack.http.post(
        f"{KE}/cloudcore/deploy", json={"version": "1.18.0"}, headers=auth
    )
    assert failed.status_code == 503, failed.text
    assert failed.json()["code"] == "API-009"
    assert failed.json()["details"]["rolled_back"] is True
    assert not await asyncio.to_thread(
        exists, apps.read_namespaced_deployment, "cloudcore", namespace
    )

    # A good version, then one whose pods never come up: the good one is put back.
    await asyncio.to_thread(hold_rollouts, stack.kube.api_client, namespace, held=False)
    good = await stack.http.post(f"{KE}/cloudcore/deploy", json={"version": "1.17.0"}, headers=auth)
    assert good.status_code == 200, good.text
    await asyncio.to_thread(hold_rollouts, stack.kube.api_client, namespace)
    bad = await stack.http.post(f"{KE}/cloudcore/deploy", json={"version": "1.18.0"}, headers=auth)
    assert bad.status_code == 503, bad.text
    image = (
        (await asyncio.to_thread(apps.read_namespaced_deployment, "cloudcore", namespace))
        .spec.template.spec.containers[0]
        .image
    )
    assert image == "kubeedge/cloudcore:v1.17.0"
    status = (await stack.http.get(f"{KE}/cloudcore/status", headers=auth)).json()
    assert status["version"] == "1.17.0"
