"""Every request example of both seed documents for the inventory endpoints, replayed
against the running stack (API, worker, Temporal dev server, broker, Kubernetes sandbox)
with the bodies as written there and our IDs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from adapters.kubernetes.kubeedge_token import verify_join_token
from store.models import utcnow
from tests.e2e.inventory_fixtures import inventory_stack
from tests.e2e.join.test_device_join import SEED_BODY as SEED_JOIN
from tests.e2e.join.test_device_join import cluster_ca
from tests.e2e.stack import Stack
from tests.support.mqtt_fixtures import Broker

KE = "/api/kubeedge"
SEED_ACTIONS = [
    "Device CRD deleted",
    "ConfigMap deleted",
    "Node removed from cluster",
    "Token revoked",
]


@pytest.fixture
async def stack(
    dev_env: WorkflowEnvironment, kube_sandbox_url: str, mqtt_broker: Broker, tmp_path: Path
) -> AsyncIterator[Stack]:
    async with inventory_stack(dev_env, kube_sandbox_url, mqtt_broker, tmp_path) as running:
        yield running


def between(value: str, earliest: datetime, latest: datetime) -> bool:
    """`value` lies in [earliest, latest], at the whole seconds the API may round to."""
    moment = datetime.fromisoformat(value)
    return earliest.replace(microsecond=0) <= moment <= latest


def ours(name: str) -> str:
    """The document's name made unique: runs on the shared dev server outlive a test."""
    return f"{name}-{uuid.uuid4().hex[:6]}"


async def test_cloudcore_document_examples(stack: Stack) -> None:
    auth = await stack.login()
    node, device_id = ours("edge-node-001"), ours("edge-device-001")
    seed_join = {**SEED_JOIN, "node_name": node, "device_id": device_id}

    # 3. Token management
    asked = utcnow()
    generated = await stack.http.post(
        f"{KE}/token/generate",
        json={
            "node_name": node,
            "expiry_hours": 72,
            "description": "Factory floor device",
        },
        headers=auth,
    )
    assert generated.status_code == 200, generated.text
    body: dict[str, Any] = generated.json()
    assert body["status"] == "success"
    assert body["node_name"] == node
    assert between(body["expires_at"], asked + timedelta(hours=72), utcnow() + timedelta(hours=72))
    assert body["join_command"] == (
        f"keadm join --cloudcore-ipport=192.0.2.10:10000 --edgenode-name={node} "
        f"--token={body['token']}"
    )
    cadata, cakeydata = await asyncio.to_thread(cluster_ca, stack.kube)
    claims = verify_join_token(token=body["token"], cadata=cadata, cakeydata=cakeydata)
    assert claims["nodeName"] == node

    listed = (await stack.http.get(f"{KE}/tokens", headers=auth)).json()
    assert listed["count"] == 1
    assert {k: listed["tokens"][0][k] for k in ("node_name", "status", "device_id")} == {
        "node_name": node,
        "status": "active",
        "device_id": None,
    }
    revoked = await stack.http.delete(f"{KE}/token/{node}", headers=auth)
    assert revoked.status_code == 200
    assert revoked.json()["message"] == f"Token revoked for {node}"

    # 4. Device management (the join itself is replayed in test_device_join.py)
    joined = await stack.http.post(f"{KE}/device/join", json=seed_join, headers=auth)
    assert joined.status_code == 200, joined.text
    devices = (await stack.http.get(f"{KE}/devices", headers=auth)).json()
    assert devices["count"] == 1
    device = devices["devices"][0]
    assert (device["node_name"], device["device_id"], device["status"]) == (
        node,
        device_id,
        "NotReady",  # its Node has not registered yet
    )
    detail = (await stack.http.get(f"{KE}/device/{device_id}", headers=auth)).json()
    assert detail["device_status"]["online"] is False
    assert detail["configuration"] == SEED_JOIN["configuration"]
    assert detail["join_status"] == "waiting_for_node"

    # 2. CloudCore management
    asked = utcnow()
    deployed = await stack.http.post(
        f"{KE}/cloudcore/deploy",
        json={"version": "1.18.0", "replicas": 1, "resources": {"cpu": "500m", "memory": "512Mi"}},
        headers=auth,
    )
    assert deployed.status_code == 200, deployed.text
    answer = deployed.json()
    assert {k: answer[k] for k in ("status", "message", "deployment_name", "namespace")} == {
        "status": "success",
        "message": "CloudCore deployed",
        "deployment_name": "cloudcore",
        "namespace": "kubeedge",
    }
    assert between(answer["created_at"], asked, utcnow())
    status = (await stack.http.get(f"{KE}/cloudcore/status", headers=auth)).json()
    assert status["version"] == "1.18.0"
    assert status["pods"] == []  # the sandbox runs no pods
    assert status["services"][0]["name"] == "cloudcore"
    assert status["services"][0]["type"] == "NodePort"
    assert {p["name"]: p["port"] for p in status["services"][0]["ports"]}["cloudhub"] == 10000

    # 7. Configuration management
    config = (await stack.http.get(f"{KE}/config", headers=auth)).json()
    assert set(config) >= {"cloudcore", "kubernetes", "security"}
    assert config["cloudcore"]["version"] == "1.18.0"
    assert config["cloudcore"]["advertise_address"] == "192.0.2.10"
    assert config["cloudcore"]["ports"]["cloudhub"] == 10000
    put = await stack.http.put(
        f"{KE}/config",
        json={
            "token_expiry": 96,
            "max_devices": 100,
            "security": {"require_tls": True, "rate_limit": 100},
        },
        headers=auth,
    )
    assert put.status_code == 200, put.text
    assert (put.json()["token_expiry"], put.json()["max_devices"]) == (96, 100)

    # 4. Device removal
    removed = await stack.http.delete(f"{KE}/device/{device_id}", headers=auth)
    assert removed.status_code == 200, removed.text
    assert removed.json()["status"] == "success"
    assert removed.json()["message"] == f"Device {device_id} removed"
    actions = removed.json()["actions_taken"]
    assert [a for a in actions if a in SEED_ACTIONS] == SEED_ACTIONS


SEED_NODE = {
    "name": "edge-node-1",
    "address": "192.168.1.100",
    "capabilities": ["compute", "storage", "gpu"],
    "resources": {"cpu": "4", "memory": "8Gi", "storage": "100Gi"},
    "labels": {"location": "datacenter-1", "environment": "production"},
}


async def test_edge_document_examples(stack: Stack) -> None:
    auth = await stack.login()
    name = ours("edge-node-1")
    created = await stack.http.post("/api/v1/nodes", json={**SEED_NODE, "name": name}, headers=auth)
    assert created.status_code == 201, created.text
    node_id = created.json()["id"]
    assert created.json()["status"] == "registered"

    listing = (await stack.http.get("/api/v1/nodes", headers=auth)).json()
    assert [n["id"] for n in listing["nodes"]] == [node_id]
    detail = (await stack.http.get(f"/api/v1/nodes/{node_id}", headers=auth)).json()
    assert detail["capabilities"] == SEED_NODE["capabilities"]
    status = await stack.http.put(
        f"/api/v1/nodes/{node_id}/status",
        json={
            "status": "active",
            "heartbeat": True,
            "resources": {"cpu_usage": "2.5", "memory_usage": "4Gi", "storage_usage": "50Gi"},
        },
        headers=auth,
    )
    assert status.json()["status"] == "active"

    issued = await stack.http.post(
        "/api/v1/security/tokens", json={"node_id": node_id, "expiration": "24h"}, headers=auth
    )
    assert issued.status_code == 201, issued.text
    token = issued.json()["token"]
    valid = await stack.http.post(
        "/api/v1/security/tokens/validate", json={"token": token}, headers=auth
    )
    assert valid.json()["valid"] is True
    assert valid.json()["node_id"] == node_id
    revoke = await stack.http.post(
        "/api/v1/security/tokens/revoke", json={"token": token}, headers=auth
    )
    assert revoke.json() == {"success": True, "message": "Token successfully revoked"}

    removed = await stack.http.delete(f"/api/v1/nodes/{node_id}", headers=auth)
    assert removed.status_code == 200, removed.text
    assert removed.json()["success"] is True
    assert removed.json()["message"] == "Node successfully removed"
    gone = await stack.http.get(f"/api/v1/nodes/{node_id}", headers=auth)
    assert gone.status_code == 404
    assert gone.json()["code"] == "NOT_FOUND"
    also_gone = await stack.http.get(f"{KE}/device/{name}", headers=auth)
    assert also_gone.status_code == 404  # one inventory
