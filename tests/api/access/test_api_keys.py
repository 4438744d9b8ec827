from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from sqlalchemy import select, update

from api.core.state import app_sessions
from store.access.users import Role
from store.models import ApiKey
from tests.api.access_helpers import api_key_header, new_api_key
from tests.api.guarded_routes import probe
from tests.api.helpers import bearer


@pytest.fixture
def extra_routers() -> Sequence[APIRouter]:
    return (probe,)


async def test_key_is_shown_once_and_stored_hashed(
    app: FastAPI, client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    created = await new_api_key(client, tokens[Role.ADMIN], role=Role.OPERATOR)

    key = created["key"]
    meta = created["api_key"]
    assert key.startswith(meta["key_id"] + "_")
    assert meta["key_id"].startswith("ewk_")
    assert len(key) > 50
    assert meta["role"] == "operator"
    assert meta["status"] == "active"
    assert meta["created_by"] == "admin-user"
    assert meta["expires_at"] is None
    assert "key" not in meta

    async with app_sessions(app)() as session:
        row = await session.scalar(select(ApiKey).where(ApiKey.id == meta["id"]))
    assert row is not None
    assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
    secret_part = key.removeprefix(meta["key_id"] + "_")
    stored = [str(getattr(row, column.name)) for column in ApiKey.__table__.columns]
    assert not any(secret_part in value for value in stored)

    listing = await client.get("/api/auth/api-keys", headers=bearer(tokens[Role.ADMIN]))
    assert listing.status_code == 200
    assert listing.json()["count"] == 1
    assert listing.json()["pagination"]["total"] == 1
    assert listing.json()["api_keys"][0]["key_id"] == meta["key_id"]
    assert secret_part not in listing.text
    assert row.key_hash not in listing.text


async def test_a_key_acts_with_its_own_role_on_both_contracts(
    client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    viewer_key = (await new_api_key(client, tokens[Role.ADMIN], role=Role.VIEWER))["key"]
    admin_key = (await new_api_key(client, tokens[Role.ADMIN], role=Role.ADMIN))["key"]

    me = await client.get("/api/auth/me", headers=api_key_header(viewer_key))
    assert me.status_code == 200
    assert me.json()["kind"] == "api_key"
    assert me.json()["role"] == "viewer"
    assert me.json()["username"].startswith("api-key:ewk_")

    assert (
        await client.get("/api/kubeedge/_probe/viewer", headers=api_key_header(viewer_key))
    ).status_code == 200
    denied = await client.get("/api/kubeedge/_probe/operator", headers=api_key_header(viewer_key))
    assert denied.status_code == 403
    assert denied.json()["details"] == {"required_role": "operator", "role": "viewer"}
    edge_denied = await client.get("/api/v1/_probe/admin", headers=api_key_header(viewer_key))
    assert edge_denied.status_code == 403
    assert edge_denied.json()["code"] == "FORBIDDEN"
    assert (
        await client.get("/api/v1/_probe/admin", headers=api_key_header(admin_key))
    ).status_code == 200
    # Clients that only know bearer tokens may send the key that way.
    assert (await client.get("/api/v1/_probe/admin", headers=bearer(admin_key))).status_code == 200


async def test_use_is_recorded(client: httpx.AsyncClient, tokens: dict[Role, str]) -> None:
    key = (await new_api_key(client, tokens[Role.ADMIN], role=Role.VIEWER))["key"]
    assert (await client.get("/api/auth/me", headers=api_key_header(key))).status_code == 200

    listing = await client.get("/api/auth/api-keys", headers=bearer(tokens[Role.ADMIN]))
    assert listing.json()["api_keys"][0]["last_used_at"] is not None


@pytest.mark.parametrize("mangle", ["last-char", "other-id", "no-secret", "garbage"])
async def test_wrong_keys_are_401(
    client: httpx.AsyncClient, tokens: dict[Role, str], mangle: str
) -> None:
    key: str = (await new_api_key(client, tokens[Role.ADMIN], role=Role.ADMIN))["key"]
    wrong = {
        "last-char": key[:-1] + ("A" if key[-1] != "A" else "B"),
        "other-id": "ewk_000000000000" + key[16:],
        "no-secret": key[:17],
        "garbage": "not-a-key",
    }[mangle]

    response = await client.get("/api/auth/me", headers=api_key_header(wrong))
    assert response.status_code == 401
    assert response.json()["code"] == "API-002"
    assert wrong not in response.text


async def test_both_credentials_at_once_are_refused(
    client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    key = (await new_api_key(client, tokens[Role.ADMIN], role=Role.VIEWER))["key"]
    response = await client.get(
        "/api/auth/me", headers={**api_key_header(key), **bearer(tokens[Role.ADMIN])}
    )
    assert response.status_code == 401


async def test_revoke_by_id_or_key_id(client: httpx.AsyncClient, tokens: dict[Role, str]) -> None:
    admin = bearer(tokens[Role.ADMIN])
    first = await new_api_key(client, tokens[Role.ADMIN], role=Role.VIEWER)
    second = await new_api_key(client, tokens[Role.ADMIN], role=Role.VIEWER)

    revoked = await client.delete(f"/api/auth/api-keys/{first['api_key']['id']}", headers=admin)
    assert revoked.status_code == 200
    assert revoked.json()["status"] == "success"
    refused = await client.get("/api/auth/me", headers=api_key_header(first["key"]))
    assert refused.status_code == 401
    assert "revoked" in refused.json()["message"]
    again = await client.delete(f"/api/auth/api-keys/{first['api_key']['id']}", headers=admin)
    assert again.status_code == 200
    assert "already" in again.json()["message"]

    by_key_id = await client.delete(
        f"/api/auth/api-keys/{second['api_key']['key_id']}", headers=admin
    )
    assert by_key_id.status_code == 200
    statuses = [
        k["status"]
        for k in (await client.get("/api/auth/api-keys", headers=admin)).json()["api_keys"]
    ]
    assert statuses == ["revoked", "revoked"]


async def test_unknown_key_is_404_without_echoing_a_secret(
    client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    admin = bearer(tokens[Role.ADMIN])
    assert (await client.delete("/api/auth/api-keys/999", headers=admin)).status_code == 404
    pasted = "ewk_0123456789ab_" + "s" * 43
    response = await client.delete(f"/api/auth/api-keys/{pasted}", headers=admin)
    assert response.status_code == 404
    assert response.json()["code"] == "API-004"
    assert pasted not in response.text


async def test_expiry(app: FastAPI, client: httpx.AsyncClient, tokens: dict[Role, str]) -> None:
    created = await new_api_key(client, tokens[Role.ADMIN], role=Role.VIEWER, expires_in_days=1)
    expires_at = datetime.fromisoformat(created["api_key"]["expires_at"])
    assert timedelta(hours=23) < expires_at - datetime.now(UTC) <= timedelta(days=1)
    assert (
        await client.get("/api/auth/me", headers=api_key_header(created["key"]))
    ).status_code == 200

    async with app_sessions(app)() as session, session.begin():
        await session.execute(
            update(ApiKey)
            .where(ApiKey.id == created["api_key"]["id"])
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    refused = await client.get("/api/auth/me", headers=api_key_header(created["key"]))
    assert refused.status_code == 401
    assert "expired" in refused.json()["message"]
    listing = await client.get("/api/auth/api-keys", headers=bearer(tokens[Role.ADMIN]))
    assert listing.json()["api_keys"][0]["status"] == "expired"


@pytest.mark.parametrize(
    "extra",
    [
        {"expires_at": "2001-01-01T00:00:00Z"},
        {"expires_at": "2999-01-01T00:00:00"},  # no time zone
        {"expires_at": "2999-01-01T00:00:00Z", "expires_in_days": 3},
        {"expires_in_days": 0},
        {"role": "root"},
        {"name": ""},
        {"name": "ci\nkey"},
        {"name": "ci\u202ekey"},
        {"secret": "mine"},
    ],
)
async def test_invalid_key_requests_are_400(
    client: httpx.AsyncClient, tokens: dict[Role, str], extra: dict[str, object]
) -> None:
    response = await client.post(
        "/api/auth/api-keys",
        json={"name": "ci", "role": "viewer", **extra},
        headers=bearer(tokens[Role.ADMIN]),
    )
    assert response.status_code == 400
    assert response.json()["code"] == "API-001"


async def test_openapi_offers_both_schemes(client: httpx.AsyncClient) -> None:
    document = (await client.get("/api/kubeedge/openapi.json")).json()

    schemes = document["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": schemes["ApiKey"]["description"],
    }
    assert schemes["BearerToken"]["scheme"] == "bearer"
    security = document["paths"]["/api/auth/users"]["get"]["security"]
    assert {"ApiKey": []} in security
    assert {"BearerToken": []} in security
    assert "security" not in document["paths"]["/api/auth/login"]["post"]
