"""CloudCore inventory endpoints that answer from the store: devices, tokens, config,
CloudCore status; pagination edges on every collection of both contracts.

The app here has no Temporal (a closed port): endpoints that start workflows answer 503
and are replayed end to end in tests/e2e/devices/test_inventory_seed_e2e.py.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.core.state import app_sessions
from store import cloudcore as observed
from store.access.users import Role
from store.devices import presence
from store.models import CommandRow, utcnow
from store.monitoring.detections import add_detections, day_of
from tests.api.helpers import bearer
from tests.api.inventory_helpers import add_devices, add_token, observe

SEED_DEVICE_KEYS = {
    "node_name",
    "device_id",
    "status",
    "roles",
    "age",
    "version",
    "pods_count",
    "addresses",
}


def envelope_code(response: httpx.Response) -> str:
    body: dict[str, Any] = response.json()
    if response.request.url.path.startswith("/api/v1"):
        assert body["error"] is True
    else:
        assert body["status"] == "error"
    assert set(body) >= {"code", "message", "details"}
    return str(body["code"])


# --- devices -----------------------------------------------------------------------------


async def test_device_list_has_the_seed_shape_and_count(
    app: FastAPI, client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    await add_devices(app, 2)
    response = await client.get("/api/kubeedge/devices", headers=bearer(tokens[Role.VIEWER]))
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert body["pagination"]["total"] == 2
    first = body["devices"][0]
    assert set(first) >= SEED_DEVICE_KEYS
    assert first["status"] == "Ready"
    assert first["roles"] == ["agent", "edge"]
    assert first["age"] == "2d"
    assert first["version"] == "v1.29.5-kubeedge-v1.18.0"
    assert first["pods_count"] == 1
    assert first["addresses"] == [{"type": "InternalIP", "address": "192.168.1.100"}]


async def test_device_detail_has_the_seed_shape(
    app: FastAPI, client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    [device_id] = await add_devices(app, 1)
    response = await client.get(
        f"/api/kubeedge/device/{device_id}", headers=bearer(tokens[Role.VIEWER])
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {
        "device_id",
        "node_name",
        "device_status",
        "configuration",
        "applications",
        "metrics",
    }
    assert set(body["device_status"]) >= {
        "online",
        "last_heartbeat",
        "cpu_usage",
        "memory_usage",
        "temperature",
    }
    assert body["device_status"]["online"] is True
    assert body["configuration"] == {"runtime": "containerd"}
    assert body["applications"][0] == {
        "name": "edge-app",
        "status": "Running",
        "image": "edge-app",
        "port": 5001,
        "namespace": None,
    }
    # Nothing detected today and no command answered yet: real figures, not guesses.
    assert body["metrics"] == {"uptime": "2d", "total_detections": 0, "average_latency": None}

    unknown = await client.get(
        "/api/kubeedge/device/edge-device-laptop-001", headers=bearer(tokens[Role.VIEWER])
    )
    assert unknown.status_code == 404
    assert envelope_code(unknown) == "API-004"


async def test_workflow_endpoints_without_temporal_are_503_never_500(
    app: FastAPI, client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    [device_id] = await add_devices(app, 1)
    admin = bearer(tokens[Role.ADMIN])
    calls = [
        client.delete(f"/api/kubeedge/device/{device_id}", headers=admin),
        client.post(
            "/api/kubeedge/token/generate", json={"node_name": "edge-node-001"}, headers=admin
        ),
        client.post("/api/kubeedge/cloudcore/deploy", json={"version": "1.18.0"}, headers=admin),
        client.get(f"/api/kubeedge/cloudcore/deploy/runs/{uuid.uuid4()}", headers=admin),
    ]
    for call in calls:
        response = await call
        assert response.status_code == 503, response.text
        assert envelope_code(response) == "API-009"


async def test_viewers_read_operators_remove_admins_manage_tokens(
    app: FastAPI, client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    [device_id] = await add_devices(app, 1)
    viewer, operator = bearer(tokens[Role.VIEWER]), bearer(tokens[Role.OPERATOR])
    forbidden = [
        client.delete(f"/api/kubeedge/device/{device_id}", headers=viewer),
        client.post("/api/kubeedge/token/generate", json={"node_name": "n"}, headers=operator),
        client.delete("/api/kubeedge/token/n", headers=operator),
        client.post("/api/kubeedge/cloudcore/deploy", json={"version": "1.18.0"}, headers=operator),
        client.put("/api/kubeedge/config", json={"max_devices": 5}, headers=operator),
    ]
    for call in forbidden:
        response = await call
        assert response.status_code == 403, response.text
        assert envelope_code(response) == "API-003"
    for path in ("/devices", f"/device/{device_id}", "/tokens", "/config", "/cloudcore/status"):
        assert (await client.get(f"/api/kubeedge{path}", headers=viewer)).status_code == 200
        missing = await client.get(f"/api/kubeedge{path}")
        assert missing.status_code == 401
        assert envelope_code(missing) == "API-002"


# --- pagination --------------------------------------------------------------------------

COLLECTIONS = [
    ("/api/kubeedge/devices", "devices"),
    ("/api/kubeedge/tokens", "tokens"),
    ("/api/v1/nodes", "nodes"),
]


async def fill(app: FastAPI, path: str, count: int) -> None:
    if path.endswith("tokens"):
        for i in range(count):
            await add_token(app, token_id=f"t{i:03d}", node_name=f"node-{i:03d}")
    else:
        await add_devices(app, count)


@pytest.mark.parametrize(("path", "key"), COLLECTIONS)
async def test_pagination_edges(
    app: FastAPI, client: httpx.AsyncClient, tokens: dict[Role, str], path: str, key: str
) -> None:
    auth = bearer(tokens[Role.VIEWER])
    empty = (await client.get(path, params={"page": 1}, headers=auth)).json()
    assert empty[key] == []
    assert {k: empty["pagination"][k] for k in ("total", "page", "limit", "pages")} == {
        "total": 0, "page": 1, "limit": 20, "pages": 0
    }  # fmt: skip

    await fill(app, path, 45)
    first = (await client.get(path, params={"page": 1}, headers=auth)).json()
    assert len(first[key]) == 20
    assert {k: first["pagination"][k] for k in ("total", "page", "limit", "pages")} == {
        "total": 45, "page": 1, "limit": 20, "pages": 3
    }  # fmt: skip
    if "kubeedge" in path:
        assert first["count"] == 20  # this page's items; the total is pagination.total
    last = (await client.get(path, params={"page": 3}, headers=auth)).json()
    assert len(last[key]) == 5
    beyond = (await client.get(path, params={"page": 4}, headers=auth)).json()
    assert beyond[key] == []
    assert beyond["pagination"]["pages"] == 3
    most = (await client.get(path, params={"limit": 100}, headers=auth)).json()
    assert len(most[key]) == 45

    for params, field in (
        ({"page": 0}, "page"),
        ({"limit": 101}, "limit"),
        ({"limit": 0}, "limit"),
        ({"page": "x"}, "page"),
    ):
        bad = await client.get(path, params=params, headers=auth)
        assert bad.status_code == 400, params
        assert envelope_code(bad) in ("API-001", "BAD_REQUEST")
        assert field in bad.json()["details"]


async def test_pages_do_not_overlap(
    app: FastAPI, client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    ids = await add_devices(app, 30)
    auth = bearer(tokens[Role.VIEWER])
    seen: list[str] = []
    for page in (1, 2, 3):
        body = (
            await client.get(f"/api/kubeedge/devices?page={page}&limit=12", headers=auth)
        ).json()
        seen += [device["device_id"] for device in body["devices"]]
    assert seen == ids


# --- tokens ------------------------------------------------------------------------------


async def test_token_list_statuses_and_revoke(
    app: FastAPI, client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    await add_token(app, token_id="a", node_name="edge-node-001", device_id="edge-device-001")
    await add_token(app, token_id="b", node_name="edge-node-001")
    await add_token(app, token_id="c", node_name="edge-node-002", hours=-1)
    viewer, admin = bearer(tokens[Role.VIEWER]), bearer(tokens[Role.ADMIN])

    body = (await client.get("/api/kubeedge/tokens", headers=viewer)).json()
    assert body["count"] == 3
    item = next(t for t in body["tokens"] if t["token_id"] == "a")
    assert set(item) >= {"node_name", "created_at", "expires_at", "status", "device_id"}
    assert item["status"] == "active"
    assert item["device_id"] == "edge-device-001"
    assert "secret" not in str(body)  # never the token, not even its hash
    expired = (await client.get("/api/kubeedge/tokens?status=expired", headers=viewer)).json()
    assert [t["node_name"] for t in expired["tokens"]] == ["edge-node-002"]
    bad = await client.get("/api/kubeedge/tokens?status=bogus", headers=viewer)
    assert bad.status_code == 400

    revoked = await client.delete("/api/kubeedge/token/edge-node-001", headers=admin)
    assert revoked.status_code == 200
    assert revoked.json() == {
        "status": "success",
        "message": "Token revoked for edge-node-001",
        "revoked": 2,
    }
    again = await client.delete("/api/kubeedge/token/edge-node-001", headers=admin)
    assert again.status_code == 404
    assert envelope_code(again) == "API-004"
    expired_only = await client.delete("/api/kubeedge/token/edge-node-002", headers=admin)
    assert expired_only.status_code == 404  # nothing active to revoke
    statuses = {
        t["token_id"]: t["status"]
        for t in (await client.get("/api/kubeedge/tokens", headers=viewer)).json()["tokens"]
    }
    assert statuses == {"a": "revoked", "b": "revoked", "c": "expired"}


# --- config ------------------------------------------------------------------------------

SEED_PUT = {
    "token_expiry": 96,
    "max_devices": 100,
    "security": {"require_tls": True, "rate_limit": 100},
}


async def test_config_seed_round_trip(
    app: FastAPI, client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    await observe(
        app,
        observed.CLOUDCORE,
        {
            "status": "running",
            "version": "1.18.0",
            "pods": [],
            "services": [
                {
                    "name": "cloudcore",
                    "type": "NodePort",
                    "ports": [{"name": "cloudhub", "port": 10000, "nodePort": 30374}],
                }
            ],
        },
    )
    await observe(
        app, observed.CLUSTER, {"kubernetes_version": "v1.33.6+k3s1", "nodes": 2, "pods": 15}
    )
    viewer, admin = bearer(tokens[Role.VIEWER]), bearer(tokens[Role.ADMIN])
    before = (await client.get("/api/kubeedge/config", headers=viewer)).json()
    assert before["cloudcore"]["version"] == "1.18.0"
    assert before["cloudcore"]["ports"] == {"cloudhub": 10000}
    assert before["cloudcore"]["nodeports"] == {"cloudhub": 30374}
    assert before["kubernetes"] == {"version": "v1.33.6+k3s1", "nodes": 2, "pods": 15}
    assert set(before["security"]) >= {"tls_enabled", "token_expiry", "rate_limiting"}
    assert before["max_devices"] is None

    put = await client.put("/api/kubeedge/config", json=SEED_PUT, headers=admin)
    assert put.status_code == 200, put.text
    assert put.json()["status"] == "success"
    after = (await client.get("/api/kubeedge/config", headers=viewer)).json()
    assert after["token_expiry"] == 96
    assert after["max_devices"] == 100
    assert after["security"]["require_tls"] is True
    assert after["security"]["rate_limit"] == 100
    assert after["security"]["token_expiry"] == 96

    cleared = await client.put("/api/kubeedge/config", json={"max_devices": None}, headers=admin)
    assert cleared.json()["max_devices"] is None
    assert cleared.json()["token_expiry"] == 96  # what was not named is kept


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"token_expiry": -1}, "token_expiry"),
        ({"token_expiry": 10_000}, "token_expiry"),
        ({"max_devices": 0}, "max_devices"),
        ({"security": {"require_tls": "yes"}}, "security.require_tls"),
        ({"security": {"rate_limit": 0}}, "security.rate_limit"),
        ({"security": {"rate_limit": 2}}, "security.rate_limit"),  # would lock everyone out
        ({"security": {"rate_limit": 9}}, "security.rate_limit"),
        ({"security": {"rate_limit": "many"}}, "security.rate_limit"),
        ({"unknown": 1}, "unknown"),
        ({}, "body"),
    ],
)
async def test_invalid_config_is_400_and_changes_nothing(
    client: httpx.AsyncClient, tokens: dict[Role, str], body: dict[str, Any], field: str
) -> None:
    admin = bearer(tokens[Role.ADMIN])
    before = (await client.get("/api/kubeedge/config", headers=admin)).json()
    response = await client.put("/api/kubeedge/config", json=body, headers=admin)
    assert response.status_code == 400
    assert envelope_code(response) == "API-001"
    assert field in response.json()["details"]
    after = (await client.get("/api/kubeedge/config", headers=admin)).json()
    assert after == before


# --- CloudCore status --------------------------------------------------------------------


async def test_cloudcore_status_is_what_the_worker_read(
    app: FastAPI, client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    viewer = bearer(tokens[Role.VIEWER])
    unknown = (await client.get("/api/kubeedge/cloudcore/status", headers=viewer)).json()
    assert unknown["status"] == "unknown"
    assert unknown["observed_at"] is None

    started = (utcnow() - timedelta(days=2, hours=1)).isoformat()
    pod = {
        "name": "cloudcore-6fd9f5779-kcjq8",
        "status": "Running",
        "ready": "1/1",
        "restarts": 0,
        "created_at": started,
    }
    ports = [{"name": "cloudhub", "port": 10000, "nodePort": 30374, "protocol": "TCP"}]
    await observe(
        app,
        observed.CLOUDCORE,
        {
            "status": "running",
            "version": "1.18.0",
            "pods": [pod],
            "services": [{"name": "cloudcore", "type": "NodePort", "ports": ports}],
        },
    )
    body = (await client.get("/api/kubeedge/cloudcore/status", headers=viewer)).json()
    assert body["status"] == "running"
    assert body["version"] == "1.18.0"
    assert body["pods"] == [
        {
            "name": "cloudcore-6fd9f5779-kcjq8",
            "status": "Running",
            "ready": "1/1",
            "restarts": 0,
            "age": "2d",
        }
    ]
    assert body["services"][0]["ports"][0] == ports[0]
    assert datetime.fromisoformat(body["observed_at"]) <= utcnow()


async def test_device_status_is_the_latest_heartbeat_with_todays_figures(
    app: FastAPI, client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    [device_id] = await add_devices(app, 1)
    now = utcnow()
    usage = {"cpu": "45%", "memory": 2.3, "memory_total": 8, "temperature": 65.5, "apps": ["x"]}
    async with app_sessions(app)() as session, session.begin():
        await presence.apply_heartbeats(
            session, beats=[presence.Heartbeat(device_id=device_id, at=now, usage=usage)]
        )
        await add_detections(session, day=day_of(now), counts={device_id: 3})
        await add_detections(session, day="2000-01-01", counts={device_id: 99})  # not today
        for command_id, seconds in (("c1", 0.04), ("c2", 0.06)):
            session.add(answered_command(command_id, device_id, now=now, seconds=seconds))
    response = await client.get(
        f"/api/kubeedge/device/{device_id}", headers=bearer(tokens[Role.VIEWER])
    )
    assert response.status_code == 200, response.text
    status = response.json()["device_status"]
    assert datetime.fromisoformat(status["last_heartbeat"]) == now
    assert (status["cpu_usage"], status["memory_usage"], status["temperature"]) == (
        "45%",
        "2.3GB/8GB",
        "65.5°C",
    )
    assert status["apps"] == [{"name": "x"}]
    metrics = response.json()["metrics"]
    assert (metrics["total_detections"], metrics["average_latency"]) == (3, "50ms")


def answered_command(command_id: str, device_id: str, *, now: datetime, seconds: float) -> Any:
    return CommandRow(
        command_id=command_id,
        device_id=device_id,
        command="get_status",
        status="completed",
        success=True,
        timeout_seconds=30,
        workflow_id=f"command/{command_id}",
        queued_at=now,
        sent_at=now,
        completed_at=now + timedelta(seconds=seconds),
    )


async def test_a_deploy_run_id_is_checked_before_temporal_is_needed(
    client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    viewer = bearer(tokens[Role.VIEWER])
    for bad in ("latest", "00000000-0000-0000-0000-00000000000G", f"{uuid.uuid4()}%0A"):
        answer = await client.get(f"/api/kubeedge/cloudcore/deploy/runs/{bad}", headers=viewer)
        assert answer.status_code == 400, answer.text
        assert answer.json()["details"] == {"run_id": "invalid"}
