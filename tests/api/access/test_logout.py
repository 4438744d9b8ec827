from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from fastapi import APIRouter, FastAPI
from sqlalchemy import select

from api.core.state import app_sessions
from store.access.revoked_tokens import revoke_token
from store.access.users import Role
from store.models import RevokedToken
from store.settings import Settings
from tests.api.access_helpers import api_key_header, new_api_key
from tests.api.guarded_routes import probe
from tests.api.helpers import ApiUser, bearer, login


@pytest.fixture
def extra_routers() -> Sequence[APIRouter]:
    return (probe,)


async def test_logout_revokes_only_that_token(
    client: httpx.AsyncClient, users: dict[Role, ApiUser]
) -> None:
    viewer = users[Role.VIEWER]
    first = (await login(client, viewer.username, viewer.password)).json()["token"]
    second = (await login(client, viewer.username, viewer.password)).json()["token"]

    response = await client.post("/api/auth/logout", headers=bearer(first))
    assert response.status_code == 200
    assert response.json()["status"] == "success"

    cloudcore = await client.get("/api/kubeedge/_probe/me", headers=bearer(first))
    assert cloudcore.status_code == 401
    assert cloudcore.json()["code"] == "API-002"
    assert "revoked" in cloudcore.json()["message"]
    edge = await client.get("/api/v1/_probe/admin", headers=bearer(first))
    assert edge.status_code == 401
    assert edge.json()["code"] == "UNAUTHORIZED"
    again = await client.post("/api/auth/logout", headers=bearer(first))
    assert again.status_code == 401

    assert (await client.get("/api/kubeedge/_probe/me", headers=bearer(second))).status_code == 200


async def test_revocation_is_kept_until_the_token_expires(
    app: FastAPI, client: httpx.AsyncClient, tokens: dict[Role, str], settings: Settings
) -> None:
    claims = jwt.decode(tokens[Role.ADMIN], settings.jwt_key, algorithms=["HS256"])
    await client.post("/api/auth/logout", headers=bearer(tokens[Role.ADMIN]))

    async with app_sessions(app)() as session:
        row = await session.get(RevokedToken, claims["jti"])
    assert row is not None
    assert row.expires_at == datetime.fromtimestamp(claims["exp"], UTC)


async def test_expired_revocations_are_pruned_by_the_next_logout(
    app: FastAPI, client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    async with app_sessions(app)() as session, session.begin():
        await revoke_token(
            session, jti="long-gone", expires_at=datetime.now(UTC) - timedelta(hours=1)
        )
        await revoke_token(
            session, jti="still-valid", expires_at=datetime.now(UTC) + timedelta(hours=1)
        )

    await client.post("/api/auth/logout", headers=bearer(tokens[Role.VIEWER]))

    async with app_sessions(app)() as session:
        left = set(await session.scalars(select(RevokedToken.jti)))
    assert "long-gone" not in left
    assert "still-valid" in left
    assert len(left) == 2


async def test_logout_needs_a_login_token(
    client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    assert (await client.post("/api/auth/logout")).status_code == 401

    key = (await new_api_key(client, tokens[Role.ADMIN], role=Role.VIEWER))["key"]
    response = await client.post("/api/auth/logout", headers=api_key_header(key))
    assert response.status_code == 400
    assert response.json()["code"] == "API-001"
    assert (await client.get("/api/auth/me", headers=api_key_header(key))).status_code == 200
