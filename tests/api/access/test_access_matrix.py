"""Who may call the user, API-key and logout endpoints: every role, by JWT and by API key."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from store.access.users import Role
from tests.api.access_helpers import add_user, api_key_header, new_api_key
from tests.api.helpers import ApiUser, bearer

ADMIN_ONLY = {Role.ADMIN}
EVERYONE = set(Role)

# (method, path, body, roles allowed, status when allowed). `{self}` is the caller's own
# user id, `{other}` another user's, `{key}` an API key's id.
ENDPOINTS: list[tuple[str, str, dict[str, Any] | None, set[Role], int]] = [
    ("GET", "/api/auth/me", None, EVERYONE, 200),
    ("GET", "/api/auth/users", None, ADMIN_ONLY, 200),
    (
        "POST",
        "/api/auth/users",
        {"username": "newcomer", "password": "correct horse battery"},
        ADMIN_ONLY,
        201,
    ),
    ("GET", "/api/auth/users/{self}", None, EVERYONE, 200),
    ("GET", "/api/auth/users/{other}", None, ADMIN_ONLY, 200),
    ("DELETE", "/api/auth/users/{other}", None, ADMIN_ONLY, 200),
    ("GET", "/api/auth/api-keys", None, ADMIN_ONLY, 200),
    ("POST", "/api/auth/api-keys", {"name": "ci", "role": "viewer"}, ADMIN_ONLY, 201),
    ("DELETE", "/api/auth/api-keys/{key}", None, ADMIN_ONLY, 200),
]


# An API key is not a user account, so it has no `{self}`.
CASES = [
    pytest.param(
        credential, role, *endpoint, id=f"{credential}-{role.value}-{endpoint[0]} {endpoint[1]}"
    )
    for credential in ("jwt", "api_key")
    for role in Role
    for endpoint in ENDPOINTS
    if not (credential == "api_key" and "{self}" in endpoint[1])
]


@pytest.mark.parametrize(
    ("credential", "role", "method", "path", "body", "allowed", "success"), CASES
)
async def test_role_matrix(
    app: FastAPI,
    client: httpx.AsyncClient,
    tokens: dict[Role, str],
    users: dict[Role, ApiUser],
    credential: str,
    role: Role,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    allowed: set[Role],
    success: int,
) -> None:
    spare_key = await new_api_key(client, tokens[Role.ADMIN], role=Role.VIEWER)
    if credential == "jwt":
        headers, own_id = bearer(tokens[role]), users[role].id
    else:
        key = await new_api_key(client, tokens[Role.ADMIN], role=role)
        headers, own_id = api_key_header(key["key"]), -1
    other = await add_user(app, username="someone-else", role=Role.VIEWER)
    url = path.format(self=own_id, other=other, key=spare_key["api_key"]["id"])

    response = await client.request(method, url, json=body, headers=headers)

    if role in allowed:
        assert response.status_code == success, response.text
    else:
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "API-003"


@pytest.mark.parametrize("role", list(Role))
async def test_everyone_may_log_out(
    client: httpx.AsyncClient, tokens: dict[Role, str], role: Role
) -> None:
    response = await client.post("/api/auth/logout", headers=bearer(tokens[role]))
    assert response.status_code == 200


@pytest.mark.parametrize(("method", "path", "body", "allowed", "success"), ENDPOINTS)
async def test_no_credentials_is_401(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    allowed: set[Role],
    success: int,
) -> None:
    url = path.format(self=1, other=2, key=1)
    response = await client.request(method, url, json=body)
    assert response.status_code == 401
    assert response.json()["code"] == "API-002"
