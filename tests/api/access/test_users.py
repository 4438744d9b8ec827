from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from api.core.state import app_sessions
from store.access.users import Role
from store.models import User
from tests.api.access_helpers import add_user, api_key_header, new_api_key
from tests.api.helpers import ApiUser, bearer, login

STRONG = "correct horse battery staple"


async def test_admin_creates_a_user_who_can_log_in(
    app: FastAPI, client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    response = await client.post(
        "/api/auth/users",
        json={"username": "alice", "password": STRONG, "role": "operator"},
        headers=bearer(tokens[Role.ADMIN]),
    )

    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "success"
    assert body["user"]["username"] == "alice"
    assert body["user"]["role"] == "operator"
    assert body["user"]["disabled"] is False
    assert set(body["user"]) == {"id", "username", "role", "disabled", "created_at"}
    assert STRONG not in response.text
    assert "password" not in response.text
    async with app_sessions(app)() as session:
        stored = await session.scalar(select(User.password_hash).where(User.username == "alice"))
    assert stored is not None
    assert stored.startswith("$argon2")

    logged_in = await login(client, "alice", STRONG)
    assert logged_in.status_code == 200
    assert logged_in.json()["user"]["role"] == "operator"


async def test_role_defaults_to_viewer(client: httpx.AsyncClient, tokens: dict[Role, str]) -> None:
    response = await client.post(
        "/api/auth/users",
        json={"username": "bob", "password": STRONG},
        headers=bearer(tokens[Role.ADMIN]),
    )
    assert response.status_code == 201
    assert response.json()["user"]["role"] == "viewer"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "carol", "password": "short"}, "password"),
        ({"username": "carol", "password": "aaaaaaaaaaaaaaaa"}, "password"),
        ({"username": "carol", "password": "Password1234"}, "password"),
        ({"username": "carol", "password": "my-name-is-carol!"}, "password"),
        ({"username": "carol", "password": "x" * 1025}, "password"),
        ({"username": "-carol", "password": STRONG}, "username"),
        ({"username": "car ol", "password": STRONG}, "username"),
        ({"username": "c" * 65, "password": STRONG}, "username"),
        ({"username": "carol", "password": STRONG, "role": "root"}, "role"),
        ({"username": "carol", "password": STRONG, "disabled": True}, "disabled"),
        ({"password": STRONG}, "username"),
    ],
)
async def test_invalid_users_are_400_naming_the_field(
    client: httpx.AsyncClient, tokens: dict[Role, str], body: dict[str, object], field: str
) -> None:
    response = await client.post("/api/auth/users", json=body, headers=bearer(tokens[Role.ADMIN]))

    assert response.status_code == 400
    assert response.json()["code"] == "API-001"
    assert field in response.json()["details"]
    password = body.get("password")
    assert not isinstance(password, str) or password not in response.text


@pytest.mark.parametrize("username", ["viewer-user", "VIEWER-USER"])
async def test_duplicate_username_is_409(
    client: httpx.AsyncClient, tokens: dict[Role, str], username: str
) -> None:
    response = await client.post(
        "/api/auth/users",
        json={"username": username, "password": STRONG},
        headers=bearer(tokens[Role.ADMIN]),
    )
    assert response.status_code == 409
    assert response.json()["code"] == "API-005"


async def test_list_is_paginated(client: httpx.AsyncClient, tokens: dict[Role, str]) -> None:
    first = await client.get("/api/auth/users?limit=2", headers=bearer(tokens[Role.ADMIN]))
    second = await client.get("/api/auth/users?limit=2&page=2", headers=bearer(tokens[Role.ADMIN]))

    assert first.status_code == 200
    assert first.json()["count"] == 2
    assert first.json()["pagination"] == {"total": 3, "page": 1, "limit": 2, "pages": 2}
    assert second.json()["count"] == 1
    names = [user["username"] for user in first.json()["users"] + second.json()["users"]]
    assert names == ["viewer-user", "operator-user", "admin-user"]
    assert "password" not in first.text

    too_big = await client.get("/api/auth/users?limit=101", headers=bearer(tokens[Role.ADMIN]))
    assert too_big.status_code == 400


async def test_get_one_self_or_admin(
    client: httpx.AsyncClient, tokens: dict[Role, str], users: dict[Role, ApiUser]
) -> None:
    viewer = users[Role.VIEWER]
    own = await client.get(f"/api/auth/users/{viewer.id}", headers=bearer(tokens[Role.VIEWER]))
    assert own.status_code == 200
    assert own.json()["username"] == viewer.username

    other = await client.get(
        f"/api/auth/users/{users[Role.ADMIN].id}", headers=bearer(tokens[Role.VIEWER])
    )
    assert other.status_code == 403
    assert other.json()["code"] == "API-003"

    by_admin = await client.get(f"/api/auth/users/{viewer.id}", headers=bearer(tokens[Role.ADMIN]))
    assert by_admin.status_code == 200

    missing = await client.get("/api/auth/users/9999", headers=bearer(tokens[Role.ADMIN]))
    assert missing.status_code == 404
    assert missing.json()["code"] == "API-004"


async def test_delete_user_ends_their_access(
    client: httpx.AsyncClient, tokens: dict[Role, str], users: dict[Role, ApiUser]
) -> None:
    operator = users[Role.OPERATOR]
    response = await client.delete(
        f"/api/auth/users/{operator.id}", headers=bearer(tokens[Role.ADMIN])
    )

    assert response.status_code == 200
    assert response.json()["status"] == "success"
    gone = await client.get(f"/api/auth/users/{operator.id}", headers=bearer(tokens[Role.ADMIN]))
    assert gone.status_code == 404
    again = await client.delete(
        f"/api/auth/users/{operator.id}", headers=bearer(tokens[Role.ADMIN])
    )
    assert again.status_code == 404
    assert (await login(client, operator.username, operator.password)).status_code == 401
    old_token = await client.get("/api/auth/me", headers=bearer(tokens[Role.OPERATOR]))
    assert old_token.status_code == 401


async def test_cannot_delete_yourself(
    client: httpx.AsyncClient, tokens: dict[Role, str], users: dict[Role, ApiUser]
) -> None:
    response = await client.delete(
        f"/api/auth/users/{users[Role.ADMIN].id}", headers=bearer(tokens[Role.ADMIN])
    )
    assert response.status_code == 409
    assert response.json()["code"] == "API-005"


async def test_the_last_admin_stays(
    app: FastAPI, client: httpx.AsyncClient, tokens: dict[Role, str], users: dict[Role, ApiUser]
) -> None:
    # An admin API key is not an account, so it is the one trying to remove the only admin.
    key = (await new_api_key(client, tokens[Role.ADMIN], role=Role.ADMIN))["key"]
    admin_id = users[Role.ADMIN].id

    refused = await client.delete(f"/api/auth/users/{admin_id}", headers=api_key_header(key))
    assert refused.status_code == 409
    assert "last admin" in refused.json()["message"]

    second = await add_user(app, username="second-admin", role=Role.ADMIN)
    allowed = await client.delete(f"/api/auth/users/{second}", headers=bearer(tokens[Role.ADMIN]))
    assert allowed.status_code == 200


async def test_me_for_a_user(
    client: httpx.AsyncClient, tokens: dict[Role, str], users: dict[Role, ApiUser]
) -> None:
    response = await client.get("/api/auth/me", headers=bearer(tokens[Role.OPERATOR]))
    assert response.status_code == 200
    body = response.json()
    assert body["kind"] == "user"
    assert body["id"] == users[Role.OPERATOR].id
    assert body["username"] == "operator-user"
    assert body["role"] == "operator"
    assert body["expires_at"] is not None
