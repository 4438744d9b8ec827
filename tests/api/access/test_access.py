from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from fastapi import APIRouter, FastAPI
from sqlalchemy import delete, update

from api.core.auth import issue_token
from api.core.state import app_sessions
from store.access.users import Role
from store.models import User
from store.settings import Settings
from tests.api.guarded_routes import probe
from tests.api.helpers import ApiUser, bearer, login


@pytest.fixture
def extra_routers() -> Sequence[APIRouter]:
    return (probe,)


async def test_disabled_user_cannot_log_in_nor_use_an_old_token(
    app: FastAPI, client: httpx.AsyncClient, users: dict[Role, ApiUser], tokens: dict[Role, str]
) -> None:
    viewer = users[Role.VIEWER]
    async with app_sessions(app)() as session, session.begin():
        await session.execute(update(User).where(User.id == viewer.id).values(disabled=True))

    assert (await login(client, viewer.username, viewer.password)).status_code == 401
    response = await client.get("/api/kubeedge/_probe/me", headers=bearer(tokens[Role.VIEWER]))
    assert response.status_code == 401


async def test_token_of_a_deleted_user_is_refused(
    app: FastAPI, client: httpx.AsyncClient, users: dict[Role, ApiUser], tokens: dict[Role, str]
) -> None:
    async with app_sessions(app)() as session, session.begin():
        await session.execute(delete(User).where(User.id == users[Role.OPERATOR].id))
    response = await client.get("/api/kubeedge/_probe/me", headers=bearer(tokens[Role.OPERATOR]))
    assert response.status_code == 401


async def test_a_deleted_users_token_never_acts_as_a_later_user(
    client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    admin = bearer(tokens[Role.ADMIN])
    password = "correct horse battery staple"

    async def create(username: str, role: Role) -> int:
        body = {"username": username, "password": password, "role": role.value}
        created = await client.post("/api/auth/users", json=body, headers=admin)
        assert created.status_code == 201, created.text
        user_id: int = created.json()["user"]["id"]
        return user_id

    first_id = await create("temp-viewer", Role.VIEWER)
    old_token = (await login(client, "temp-viewer", password)).json()["token"]
    assert (await client.delete(f"/api/auth/users/{first_id}", headers=admin)).status_code == 200

    # The next account, whatever its name, gets a new id; the same name is a new account.
    for username in ("next-admin", "temp-viewer"):
        later_id = await create(username, Role.ADMIN)
        response = await client.get("/api/kubeedge/_probe/admin", headers=bearer(old_token))
        assert response.status_code == 401, (username, response.text)
        assert response.json()["code"] == "API-002"
        assert later_id != first_id


async def test_a_token_must_name_its_account_and_username(
    client: httpx.AsyncClient, settings: Settings, users: dict[Role, ApiUser]
) -> None:
    genuine = issue_token(settings=settings, user=users[Role.ADMIN].model()).token
    claims = jwt.decode(genuine, settings.jwt_key, algorithms=["HS256"])
    renamed = {**claims, "username": users[Role.VIEWER].username}
    by_integer_id = {**claims, "sub": str(users[Role.ADMIN].id)}
    nameless = {key: value for key, value in claims.items() if key != "username"}

    for forged in (renamed, by_integer_id, nameless):
        token = jwt.encode(forged, settings.jwt_key, algorithm="HS256")
        response = await client.get("/api/kubeedge/_probe/me", headers=bearer(token))
        assert response.status_code == 401, forged


async def test_missing_token_is_401_in_both_envelopes(client: httpx.AsyncClient) -> None:
    cloudcore = await client.get("/api/kubeedge/_probe/me")
    assert cloudcore.status_code == 401
    assert cloudcore.json()["code"] == "API-002"
    assert cloudcore.headers["www-authenticate"] == "Bearer"

    edge = await client.get("/api/v1/_probe/admin")
    assert edge.status_code == 401
    assert edge.json() == {
        "error": True,
        "code": "UNAUTHORIZED",
        "message": "Missing bearer token",
        "details": {},
    }


@pytest.mark.parametrize(
    "authorization",
    ["Bearer not-a-jwt", "Bearer ", "Basic dXNlcjpwYXNz", "bearer a.b.c"],
)
async def test_malformed_credentials_are_401(client: httpx.AsyncClient, authorization: str) -> None:
    response = await client.get("/api/kubeedge/_probe/me", headers={"Authorization": authorization})
    assert response.status_code == 401
    assert response.json()["code"] == "API-002"


async def test_expired_token_is_401(
    client: httpx.AsyncClient, settings: Settings, users: dict[Role, ApiUser]
) -> None:
    issued_long_ago = datetime.now(UTC) - timedelta(minutes=settings.jwt_ttl_minutes + 5)
    expired = issue_token(settings=settings, user=users[Role.ADMIN].model(), now=issued_long_ago)

    response = await client.get("/api/kubeedge/_probe/me", headers=bearer(expired.token))
    assert response.status_code == 401
    assert "expired" in response.json()["message"].lower()


async def test_token_signed_with_another_key_is_401(
    client: httpx.AsyncClient, settings: Settings, users: dict[Role, ApiUser]
) -> None:
    genuine = issue_token(settings=settings, user=users[Role.ADMIN].model()).token
    claims = jwt.decode(genuine, settings.jwt_key, algorithms=["HS256"])
    forged = jwt.encode(claims, b"k" * 32, algorithm="HS256")
    unsigned = jwt.encode(claims, None, algorithm="none")  # type: ignore[arg-type]

    for token in (forged, unsigned):
        response = await client.get("/api/kubeedge/_probe/me", headers=bearer(token))
        assert response.status_code == 401
        assert response.json()["message"] == "Invalid token"


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.VIEWER, {Role.VIEWER}),
        (Role.OPERATOR, {Role.VIEWER, Role.OPERATOR}),
        (Role.ADMIN, {Role.VIEWER, Role.OPERATOR, Role.ADMIN}),
    ],
)
async def test_role_matrix(
    client: httpx.AsyncClient, tokens: dict[Role, str], role: Role, allowed: set[Role]
) -> None:
    for level in Role:
        response = await client.get(
            f"/api/kubeedge/_probe/{level.value}", headers=bearer(tokens[role])
        )
        if level in allowed:
            assert response.status_code == 200, (role, level)
        else:
            assert response.status_code == 403, (role, level)
            assert response.json()["code"] == "API-003"
            assert response.json()["details"] == {"required_role": level.value, "role": role.value}


async def test_forbidden_in_the_edge_envelope(
    client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    response = await client.get("/api/v1/_probe/admin", headers=bearer(tokens[Role.OPERATOR]))
    assert response.status_code == 403
    assert response.json()["error"] is True
    assert response.json()["code"] == "FORBIDDEN"


async def test_the_stored_role_wins_over_the_token(
    app: FastAPI, client: httpx.AsyncClient, users: dict[Role, ApiUser], tokens: dict[Role, str]
) -> None:
    async with app_sessions(app)() as session, session.begin():
        await session.execute(
            update(User).where(User.id == users[Role.ADMIN].id).values(role=Role.VIEWER.value)
        )
    response = await client.get("/api/kubeedge/_probe/admin", headers=bearer(tokens[Role.ADMIN]))
    assert response.status_code == 403
