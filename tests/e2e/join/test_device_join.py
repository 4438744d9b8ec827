"""End to end: join a device over HTTP, see it in the cluster, let its node turn Ready."""

from __future__ import annotations

import asyncio
import base64
import uuid
from typing import Any

import pytest
from kubernetes import client as k8s

from adapters.kubernetes.client import KubeTarget
from adapters.kubernetes.kubeedge_token import verify_join_token
from adapters.mqtt.credentials import MqttCredentials
from store.devices import inventory as devices
from store.devices import mqtt_credentials, tokens
from tests.e2e.stack import Stack
from tests.support.helpers import eventually
from tests.support.kube_fixtures import make_node_ready
from tests.support.mqtt_fixtures import Broker, can_connect
from workflows.contracts.join import JOIN_PROGRESS_QUERY, JoinProgress, JoinStatus

SEED_BODY = {
    "node_name": "edge-node-001",
    "device_id": "edge-device-001",
    "cloud_ip": "3.70.53.21",
    "device_type": "camera",
    "location": "Factory Floor 1",
    "configuration": {
        "cni_type": "containerd",
        "runtime": "containerd",
        "camera_resolution": "1920x1080",
    },
}


def cluster_ca(target: KubeTarget) -> tuple[bytes, bytes]:
    secret = k8s.CoreV1Api(target.api_client).read_namespaced_secret("casecret", "kubeedge")
    return base64.b64decode(secret.data["cadata"]), base64.b64decode(secret.data["cakeydata"])


def token_from(join_command: str) -> str:
    return next(arg.split("=", 1)[1] for arg in join_command.split() if arg.startswith("--token="))


async def test_join_provisions_waits_for_ready_and_completes(stack: Stack) -> None:
    auth = await stack.login()
    answer = await stack.http.post("/api/kubeedge/device/join", json=SEED_BODY, headers=auth)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    assert body["status"] == "success"
    assert body["configmap_created"] == "edgecore-config-edge-node-001"
    assert body["device_crd_created"] == "edge-device-001"
    assert body["steps"] == {
        "token_generated": True,
        "configmap_created": True,
        "device_crd_created": True,
        "rbac_configured": True,
        "inventory_recorded": True,
        "notified": True,
    }
    assert body["workflow_id"] == "device-join/edge-device-001"
    assert body["temporal_ui_url"].endswith("/workflows/device-join%2Fedge-device-001")
    command = body["join_command"]
    assert command.startswith(
        "keadm join --cloudcore-ipport=3.70.53.21:10000 --edgenode-name=edge-node-001 --token="
    )

    # The token is a real KubeEdge token for this cluster's CA, stored only as a hash.
    token = token_from(command)
    cadata, cakeydata = await asyncio.to_thread(cluster_ca, stack.kube)
    claims = verify_join_token(token=token, cadata=cadata, cakeydata=cakeydata)
    assert claims["nodeName"] == "edge-node-001"
    async with stack.sessions() as session:
        row = await tokens.find_by_token(session, token=token)
        assert row is not None
        assert row.device_id == "edge-device-001"
        assert row.used_at is None

    # The objects are in the cluster with our labels.
    core = k8s.CoreV1Api(stack.kube.api_client)
    configmap = await asyncio.to_thread(
        core.read_namespaced_config_map, "edgecore-config-edge-node-001", "kubeedge"
    )
    assert configmap.metadata.labels["app.kubernetes.io/managed-by"] == "edgewright"
    custom = k8s.CustomObjectsApi(stack.kube.api_client)
    device = await asyncio.to_thread(
        custom.get_namespaced_custom_object,
        "devices.kubeedge.io",
        "v1beta1",
        "default",
        "devices",
        "edge-device-001",
    )
    assert device["spec"]["nodeName"] == "edge-node-001"

    # The same request again is the same run with the same answer.
    again = await stack.http.post("/api/kubeedge/device/join", json=SEED_BODY, headers=auth)
    assert again.status_code == 200
    assert again.json() == body

    # Another request for the same device is a conflict, in the contract's envelope.
    other = {**SEED_BODY, "location": "Somewhere else"}
    conflict = await stack.http.post("/api/kubeedge/device/join", json=other, headers=auth)
    assert conflict.status_code == 409
    assert conflict.json()["code"] == "API-005"

    # The run is findable by its search attributes.
    # Within this stack's task queue: other tests on the shared server (the OpenAPI fuzz
    # draws the schema's example device ID) may join the same device ID.
    query = f"DeviceId='edge-device-001' AND TaskQueue='{stack.settings.task_queue}'"
    found = [wf async for wf in stack.temporal.list_workflows(query)]
    assert [wf.id for wf in found] == ["device-join/edge-device-001"]

    # edgecore registers the node; the workflow notices on its own and completes.
    await asyncio.to_thread(make_node_ready, stack.kube.api_client, "edge-node-001")
    handle = stack.temporal.get_workflow_handle(
        "device-join/edge-device-001", result_type=JoinProgress
    )
    result = await handle.result()
    assert result.status == JoinStatus.JOINED

    async def joined() -> bool:
        async with stack.sessions() as session:
            row = await devices.get_device(session, device_id="edge-device-001")
            used = await tokens.find_by_token(session, token=token)
            return bool(row and row.status == "joined" and used and used.used_at)

    await eventually(joined)


async def test_bad_bodies_are_400_and_start_nothing(stack: Stack) -> None:
    auth = await stack.login()
    bad = [
        {**SEED_BODY, "node_name": "Bad_Node!"},
        {**SEED_BODY, "device_id": "dev/../x"},
        {**SEED_BODY, "cloud_ip": "1.2.3.4; rm -rf /"},
        {**SEED_BODY, "unknown": 1},
        {"device_id": "x"},
    ]
    for body in bad:
        answer = await stack.http.post("/api/kubeedge/device/join", json=body, headers=auth)
        assert answer.status_code == 400, (body, answer.text)
        assert answer.json()["code"] == "API-001"
    found = [
        wf async for wf in stack.temporal.list_workflows(f"TaskQueue='{stack.settings.task_queue}'")
    ]
    assert found == []


async def test_join_requires_an_operator(stack: Stack) -> None:
    answer = await stack.http.post("/api/kubeedge/device/join", json=SEED_BODY)
    assert answer.status_code == 401
    assert answer.json()["code"] == "API-002"


async def test_a_joined_device_has_its_own_mqtt_account_until_removed(
    stack: Stack, mqtt_broker: Broker
) -> None:
    auth = await stack.login()
    tag = uuid.uuid4().hex[:6]
    device, node = f"cam-{tag}", f"node-{tag}"
    body = {"node_name": node, "device_id": device, "cloud_ip": "3.70.53.21"}
    answer = await stack.http.post("/api/kubeedge/device/join", json=body, headers=auth)
    assert answer.status_code == 200, answer.text
    mqtt = answer.json()["mqtt"]
    assert {key: mqtt[key] for key in ("host", "port", "username", "client_id")} == {
        "host": mqtt_broker.host,
        "port": mqtt_broker.port,
        "username": device,
        "client_id": device,
    }
    account = MqttCredentials(username=device, password=mqtt["password"])
    if mqtt_broker.enforces_auth:
        assert await can_connect(mqtt_broker, account, client_id=device)

    # Temporal history and the Web UI hold it sealed only.
    handle = stack.temporal.get_workflow_handle(f"device-join/{device}")
    history = await handle.fetch_history()
    assert mqtt["password"] not in history.to_json()
    progress = await handle.query(JOIN_PROGRESS_QUERY, result_type=JoinProgress)
    assert progress.sealed_mqtt_password is not None
    assert mqtt["password"] not in progress.model_dump_json()

    removed = await stack.http.delete(f"/api/kubeedge/device/{device}", headers=auth)
    assert removed.status_code == 200, removed.text
    if mqtt_broker.enforces_auth:
        assert not await can_connect(mqtt_broker, account, client_id=device)
    core = k8s.CoreV1Api(stack.kube.api_client)
    with pytest.raises(k8s.ApiException) as gone:
        await asyncio.to_thread(core.read_namespaced_secret, f"edgecore-mqtt-{node}", "kubeedge")
    assert gone.value.status == 404
    async with stack.sessions() as session:
        assert await mqtt_credentials.get(session, device_id=device) is None


async def test_an_expired_join_takes_the_mqtt_account_with_it(
    stack: Stack, mqtt_broker: Broker
) -> None:
    auth = await stack.login()
    tag = uuid.uuid4().hex[:6]
    device, node = f"cam-{tag}", f"node-{tag}"
    # A token of ~4 s: the node never turns Ready, so the join expires and undoes itself.
    body = {"node_name": node, "device_id": device, "token_expiry_hours": 0.001}
    answer = await stack.http.post("/api/kubeedge/device/join", json=body, headers=auth)
    assert answer.status_code == 200, answer.text
    account = MqttCredentials(username=device, password=answer.json()["mqtt"]["password"])
    handle = stack.temporal.get_workflow_handle(f"device-join/{device}", result_type=JoinProgress)
    result = await handle.result()
    assert result.status == JoinStatus.EXPIRED
    if mqtt_broker.enforces_auth:
        assert not await can_connect(mqtt_broker, account, client_id=device)
    async with stack.sessions() as session:
        assert await mqtt_credentials.get(session, device_id=device) is None
