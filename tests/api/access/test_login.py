from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import httpx
import jwt
import pytest
from fastapi import APIRouter

from api.core.auth import ISSUER
from store.access.users import Role
from store.settings import Settings
from tests.api.guarded_routes import probe
from tests.api.helpers import ApiUser, bearer, login


@pytest.fixture
def extra_routers() -> Sequence[APIRouter]:
    return (probe,)


async def test_login_answers_a_working_token(
    client: httpx.AsyncClient, users: dict[Role, ApiUser], settings: Settings
) -> None:
    operator = users[Role.OPERATOR]
    response = await login(client, operator.username, operator.password)

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == settings.jwt_ttl_minutes * 60
    assert body["user"] == {"id": operator.id, "username": operator.username, "role": "operator"}
    claims = jwt.decode(body["token"], settings.jwt_key, algorithms=["HS256"], issuer=ISSUER)
    assert claims["sub"] == operator.uid
    assert claims["username"] == operator.username
    assert claims["role"] == "operator"
    assert claims["exp"] - claims["iat"] == settings.jwt_ttl_minutes * 60
    assert claims["jti"]
    assert datetime.fromisoformat(body["expires_at"]) == datetime.fromtimestamp(claims["exp"], UTC)

    me = await client.get("/api/kubeedge/_probe/me", headers=bearer(body["token"]))
    assert me.status_code == 200
    assert me.json() == {"username": operator.username}


async def test_every_login_gets_a_distinct_token_id(
    client: httpx.AsyncClient, users: dict[Role, ApiUser], settings: Settings
) -> None:
    viewer = users[Role.VIEWER]
    first = (await login(client, viewer.username, viewer.password)).json()["token"]
    second = (await login(client, viewer.username, viewer.password)).json()["token"]
    decode = [jwt.decode(t, settings.jwt_key, algorithms=["HS256"]) for t in (first, second)]
    assert decode[0]["jti"] != decode[1]["jti"]


async def test_wrong_password_and_unknown_user_look_the_same(
    client: httpx.AsyncClient, users: dict[Role, ApiUser]
) -> None:
    wrong_password = await login(client, users[Role.ADMIN].username, "not-the-password")
    unknown_user = await login(client, "nobody-here", "not-the-password")

    for response in (wrong_password, unknown_user):
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
    assert wrong_password.json() == unknown_user.json()
    assert wrong_password.json()["code"] == "API-002"
    assert wrong_password.json()["status"] == "error"


async def test_login_validation_lists_fields_and_never_echoes_the_password(
    client: httpx.AsyncClient,
) -> None:
    empty = await client.post("/api/auth/login", json={})
    assert empty.status_code == 400
    assert empty.json()["code"] == "API-001"
    assert set(empty.json()["details"]) == {"username", "password"}

    secret = "hunter2-" * 200  # over the length limit: rejected, and must not come back
    too_long = await client.post("/api/auth/login", json={"username": "x", "password": secret})
    assert too_long.status_code == 400
    assert set(too_long.json()["details"]) == {"password"}
    assert "hunter2" not in too_long.text


async def test_login_accepts_json_sent_the_way_the_seed_curl_sends_it(
    client: httpx.AsyncClient, users: dict[Role, ApiUser]
) -> None:
    # `curl -d '{...}'` without -H labels the body application/x-www-form-urlencoded.
    admin = users[Role.ADMIN]
    body = f'{{"username": "{admin.username}", "password": "{admin.password}"}}'
    for content_type in ("application/x-www-form-urlencoded", None):
        headers = {"Content-Type": content_type} if content_type else {}
        response = await client.post("/api/auth/login", content=body, headers=headers)
        assert response.status_code == 200, response.text
