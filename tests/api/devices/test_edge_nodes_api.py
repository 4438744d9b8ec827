"""Edge API nodes and security tokens: the seed's examples, one inventory with the
CloudCore API, and what a node's own token may and may not do."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from sqlalchemy import delete

from api.core.state import app_sessions, app_settings
from api.devices import node_routes as edge_nodes
from api.devices import node_tokens
from store.access.users import Role
from store.devices import node_tokens as token_store
from store.models import Device, utcnow
from tests.api.helpers import bearer

SEED_NODE = {
    "name": "edge-node-1",
    "address": "192.168.1.100",
    "capabilities": ["compute", "storage", "gpu"],
    "resources": {"cpu": "4", "memory": "8Gi", "storage": "100Gi"},
    "labels": {"location": "datacenter-1", "environment": "production"},
}
SEED_STATUS = {
    "status": "active",
    "heartbeat": True,
    "resources": {"cpu_usage": "2.5", "memory_usage": "4Gi", "storage_usage": "50Gi"},
}


def edge_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error"] is True
    assert body["code"] == code
    assert isinstance(body["details"], dict)
    return body


async def register(client: httpx.AsyncClient, token: str, **overrides: Any) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/nodes", json={**SEED_NODE, **overrides}, headers=bearer(token)
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def node_token(client: httpx.AsyncClient, admin: str, node_id: str) -> str:
    response = await client.post(
        "/api/v1/security/tokens",
        json={"node_id": node_id, "expiration": "24h"},
        headers=bearer(admin),
    )
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


async def test_seed_node_lifecycle_and_one_inventory(
    client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    operator, viewer = tokens[Role.OPERATOR], tokens[Role.VIEWER]
    created = await register(client, operator)
    assert set(created) >= {"id", "name", "address", "status", "registered_at"}
    assert (created["name"], created["address"], created["status"]) == (
        "edge-node-1",
        "192.168.1.100",
        "registered",
    )
    node_id = created["id"]

    listing = (await client.get("/api/v1/nodes", headers=bearer(viewer))).json()
    assert listing["nodes"] == [
        {
            "id": node_id,
            "name": "edge-node-1",
            "address": "192.168.1.100",
            "status": "registered",
            "last_heartbeat": None,
        }
    ]
    assert listing["pagination"] == {"total": 1, "page": 1, "limit": 20, "pages": 1}

    detail = (await client.get(f"/api/v1/nodes/{node_id}", headers=bearer(viewer))).json()
    for key in ("capabilities", "resources", "labels"):
        assert detail[key] == SEED_NODE[key]
    assert detail["registered_at"] == created["registered_at"]

    reported = await client.put(
        f"/api/v1/nodes/{node_id}/status", json=SEED_STATUS, headers=bearer(operator)
    )
    assert reported.status_code == 200, reported.text
    body = reported.json()
    assert set(body) == {"id", "name", "status", "last_heartbeat", "address"}
    assert body["status"] == "active"
    assert datetime.fromisoformat(body["last_heartbeat"]) <= utcnow()

    # The same row is a device of the CloudCore API, with what the node reported.
    devices = (await client.get("/api/kubeedge/devices", headers=bearer(viewer))).json()
    assert [d["device_id"] for d in devices["devices"]] == ["edge-node-1"]
    assert devices["devices"][0]["node_id"] == node_id
    device = (await client.get("/api/kubeedge/device/edge-node-1", headers=bearer(viewer))).json()
    assert device["device_status"]["online"] is True
    assert device["device_status"]["cpu_usage"] == "2.5"
    assert device["device_status"]["memory_usage"] == "4Gi"


async def test_registration_is_validated(
    client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    operator = bearer(tokens[Role.OPERATOR])
    await register(client, tokens[Role.OPERATOR])
    duplicate = await client.post("/api/v1/nodes", json=SEED_NODE, headers=operator)
    edge_error(duplicate, 409, "CONFLICT")
    for body, field in (
        ({**SEED_NODE, "name": "Edge_Node!"}, "name"),
        ({**SEED_NODE, "name": "edge-node-9\n"}, "name"),
        ({**SEED_NODE, "name": "n" * 64}, "name"),  # longer than a label value may be
        ({**SEED_NODE, "address": "1.2.3.4; rm -rf /"}, "address"),
        ({**SEED_NODE, "address": "10.0.0.9\n"}, "address"),
        ({**SEED_NODE, "address": "fe80::1%eth0"}, "address"),
        ({**SEED_NODE, "labels": {"zone": "north\u0000"}}, "labels.zone"),
        ({**SEED_NODE, "capabilities": ["gpu\n"]}, "capabilities[0]"),
        ({**SEED_NODE, "capabilities": "gpu"}, "capabilities"),
        ({**SEED_NODE, "surprise": 1}, "surprise"),
        ({"address": "10.0.0.1"}, "name"),
    ):
        response = await client.post("/api/v1/nodes", json=body, headers=operator)
        assert field in edge_error(response, 400, "BAD_REQUEST")["details"]
    dotted = await register(client, tokens[Role.OPERATOR], name="edge.factory.example")
    detail = (await client.get(f"/api/v1/nodes/{dotted['id']}", headers=operator)).json()
    assert detail["device_id"].startswith("edge-factory-example-")
    viewer = await client.post(
        "/api/v1/nodes", json={**SEED_NODE, "name": "x"}, headers=bearer(tokens[Role.VIEWER])
    )
    edge_error(viewer, 403, "FORBIDDEN")


async def test_status_reports_are_validated(
    client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    operator = bearer(tokens[Role.OPERATOR])
    node_id = (await register(client, tokens[Role.OPERATOR]))["id"]
    path = f"/api/v1/nodes/{node_id}/status"
    edge_error(await client.put(path, json={}, headers=operator), 400, "BAD_REQUEST")
    edge_error(
        await client.put(path, json={"status": "ACTIVE!"}, headers=operator), 400, "BAD_REQUEST"
    )
    edge_error(
        await client.put(path, json={"heartbeat": "yes"}, headers=operator), 400, "BAD_REQUEST"
    )
    unknown = await client.put(
        f"/api/v1/nodes/{uuid.uuid4()}/status", json=SEED_STATUS, headers=operator
    )
    edge_error(unknown, 404, "NOT_FOUND")
    edge_error(
        await client.get(f"/api/v1/nodes/{uuid.uuid4()}", headers=operator), 404, "NOT_FOUND"
    )


async def test_the_device_cap_applies_to_registration(
    client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    admin = bearer(tokens[Role.ADMIN])
    assert (
        await client.put("/api/kubeedge/config", json={"max_devices": 1}, headers=admin)
    ).status_code == 200
    await register(client, tokens[Role.ADMIN])
    full = await client.post(
        "/api/v1/nodes", json={**SEED_NODE, "name": "edge-node-2"}, headers=admin
    )
    assert edge_error(full, 409, "CONFLICT")["details"] == {"max_devices": 1, "devices": 1}
    await client.put("/api/kubeedge/config", json={"max_devices": 2}, headers=admin)
    await register(client, tokens[Role.ADMIN], name="edge-node-2")


# --- security tokens ---------------------------------------------------------------------


async def test_seed_token_examples(client: httpx.AsyncClient, tokens: dict[Role, str]) -> None:
    admin = tokens[Role.ADMIN]
    node_id = (await register(client, admin))["id"]
    asked = utcnow().replace(microsecond=0)
    issued = await client.post(
        "/api/v1/security/tokens",
        json={"node_id": node_id, "expiration": "24h"},
        headers=bearer(admin),
    )
    assert issued.status_code == 201
    token, expires_at = issued.json()["token"], datetime.fromisoformat(issued.json()["expires_at"])
    assert token.startswith("eyJ")
    assert asked + timedelta(hours=24) <= expires_at <= utcnow() + timedelta(hours=24)

    viewer = bearer(tokens[Role.VIEWER])
    valid = (
        await client.post("/api/v1/security/tokens/validate", json={"token": token}, headers=viewer)
    ).json()
    assert valid == {
        "valid": True,
        "node_id": node_id,
        "expires_at": issued.json()["expires_at"],
        "reason": None,
    }

    revoked = await client.post(
        "/api/v1/security/tokens/revoke", json={"token": token}, headers=bearer(admin)
    )
    assert revoked.json() == {"success": True, "message": "Token successfully revoked"}
    again = await client.post(
        "/api/v1/security/tokens/revoke", json={"token": token}, headers=bearer(admin)
    )
    assert again.status_code == 200
    after = (
        await client.post("/api/v1/security/tokens/validate", json={"token": token}, headers=viewer)
    ).json()
    assert after["valid"] is False
    assert after["reason"] == "Node token has been revoked"
    used = await client.get(f"/api/v1/nodes/{node_id}", headers=bearer(token))
    edge_error(used, 401, "UNAUTHORIZED")


async def test_token_requests_are_validated(
    client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    admin = bearer(tokens[Role.ADMIN])
    node_id = (await register(client, tokens[Role.ADMIN]))["id"]
    for expiration in ("24x", "0h", "400d", "h"):
        bad = await client.post(
            "/api/v1/security/tokens",
            json={"node_id": node_id, "expiration": expiration},
            headers=admin,
        )
        assert "expiration" in edge_error(bad, 400, "BAD_REQUEST")["details"]
    unknown = await client.post("/api/v1/security/tokens", json={"node_id": "nope"}, headers=admin)
    edge_error(unknown, 404, "NOT_FOUND")
    operator = await client.post(
        "/api/v1/security/tokens", json={"node_id": node_id}, headers=bearer(tokens[Role.OPERATOR])
    )
    edge_error(operator, 403, "FORBIDDEN")
    garbage = await client.post(
        "/api/v1/security/tokens/validate", json={"token": "not-a-token"}, headers=admin
    )
    assert garbage.json()["valid"] is False
    user_jwt = await client.post(
        "/api/v1/security/tokens/validate", json={"token": tokens[Role.ADMIN]}, headers=admin
    )
    assert user_jwt.json()["valid"] is False  # a login token is no node token
    edge_error(
        await client.post(
            "/api/v1/security/tokens/revoke", json={"token": "not-a-token"}, headers=admin
        ),
        404,
        "NOT_FOUND",
    )


async def test_a_node_token_acts_on_its_own_node_only(
    client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    admin = tokens[Role.ADMIN]
    own = (await register(client, admin))["id"]
    other = (await register(client, admin, name="edge-node-2"))["id"]
    mine = bearer(await node_token(client, admin, own))

    assert (await client.get(f"/api/v1/nodes/{own}", headers=mine)).status_code == 200
    reported = await client.put(f"/api/v1/nodes/{own}/status", json=SEED_STATUS, headers=mine)
    assert reported.status_code == 200
    assert reported.json()["status"] == "active"

    edge_error(await client.get(f"/api/v1/nodes/{other}", headers=mine), 403, "FORBIDDEN")
    edge_error(
        await client.put(f"/api/v1/nodes/{other}/status", json=SEED_STATUS, headers=mine),
        403,
        "FORBIDDEN",
    )
    edge_error(await client.get("/api/v1/nodes", headers=mine), 403, "FORBIDDEN")
    edge_error(
        await client.post("/api/v1/nodes", json={**SEED_NODE, "name": "n3"}, headers=mine),
        403,
        "FORBIDDEN",
    )
    edge_error(await client.delete(f"/api/v1/nodes/{own}", headers=mine), 403, "FORBIDDEN")
    # Everywhere else a node token is no credential at all.
    edge_error(
        await client.post("/api/v1/security/tokens", json={"node_id": own}, headers=mine),
        401,
        "UNAUTHORIZED",
    )
    cloudcore = await client.get("/api/kubeedge/devices", headers=mine)
    assert cloudcore.status_code == 401
    assert cloudcore.json()["code"] == "API-002"


async def test_expired_forged_and_orphaned_node_tokens_are_401(
    app: FastAPI, client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    settings = app_settings(app)
    node_id = (await register(client, tokens[Role.ADMIN]))["id"]
    past = utcnow().replace(microsecond=0) - timedelta(hours=2)
    expired = node_tokens.mint(
        settings=settings,
        node_id=node_id,
        token_id="old",
        issued_at=past,
        expires_at=past + timedelta(hours=1),
    )
    async with app_sessions(app)() as session, session.begin():
        await token_store.record_node_token(
            session,
            token_id="old",
            token=expired,
            node_id=node_id,
            expires_at=past + timedelta(hours=1),
            created_by="test",
            now=past,
        )
    body = edge_error(
        await client.get(f"/api/v1/nodes/{node_id}", headers=bearer(expired)), 401, "UNAUTHORIZED"
    )
    assert body["message"] == "Node token has expired"

    # Signed with the login key instead of the node key: refused.
    forged = jwt.encode(
        {
            "sub": node_id,
            "kind": "node",
            "jti": "x",
            "iat": utcnow(),
            "exp": utcnow() + timedelta(hours=1),
            "iss": "edgewright",
        },
        settings.jwt_key,
        algorithm="HS256",
    )
    edge_error(
        await client.get(f"/api/v1/nodes/{node_id}", headers=bearer(forged)), 401, "UNAUTHORIZED"
    )

    good = await node_token(client, tokens[Role.ADMIN], node_id)
    async with app_sessions(app)() as session, session.begin():
        await session.execute(delete(Device).where(Device.node_id == node_id))
    gone = edge_error(
        await client.get(f"/api/v1/nodes/{node_id}", headers=bearer(good)), 401, "UNAUTHORIZED"
    )
    assert gone["message"] == "The node of this token no longer exists"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        (method, route.path.replace("{node_id}", "x"))
        for route in edge_nodes.router.routes
        for method in getattr(route, "methods", ())
    ],
)
async def test_every_node_route_needs_credentials(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await client.request(method, path, json=SEED_STATUS)
    edge_error(response, 401, "UNAUTHORIZED")


async def test_node_removal_without_temporal_is_503(
    client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    node_id = (await register(client, tokens[Role.OPERATOR]))["id"]
    response = await client.delete(
        f"/api/v1/nodes/{node_id}", headers=bearer(tokens[Role.OPERATOR])
    )
    edge_error(response, 503, "SERVICE_UNAVAILABLE")
