"""Logins, tokens and refusals in the audit log; no credential ever in it."""

from __future__ import annotations

import httpx
import jwt
from fastapi import FastAPI

from store.access.users import Role
from tests.api.audit.helpers import as_text, events, logs, stored_rows
from tests.api.helpers import ApiUser, bearer, login


async def test_a_failed_login_is_recorded_with_its_address_and_never_the_password(
    app: FastAPI, client: httpx.AsyncClient, users: dict[Role, ApiUser], tokens: dict[Role, str]
) -> None:
    viewer = users[Role.VIEWER]
    wrong = "Wr0ng-but-Secret-Passw0rd!"
    assert (await login(client, viewer.username, wrong)).status_code == 401
    assert (await login(client, "nobody-here", wrong)).status_code == 401

    body = await logs(client, tokens[Role.ADMIN], event="login_failed")
    assert body["count"] == 2
    newest, oldest = body["logs"]
    assert oldest["actor"] == viewer.username
    assert oldest["source_ip"] == "127.0.0.1"  # httpx's ASGI client address
    assert oldest["outcome"] == "failure"
    assert oldest["details"] == {"reason": "wrong password"}
    assert newest["details"] == {"reason": "unknown user"}

    answer = await client.get("/api/kubeedge/security/logs", headers=bearer(tokens[Role.ADMIN]))
    assert wrong not in answer.text
    assert wrong not in as_text(await stored_rows(app))


async def test_login_use_and_logout_without_the_token(
    app: FastAPI, client: httpx.AsyncClient, users: dict[Role, ApiUser], tokens: dict[Role, str]
) -> None:
    operator = users[Role.OPERATOR]
    answer = await login(client, operator.username, operator.password)
    assert answer.status_code == 200
    token = answer.json()["token"]
    for _ in range(3):  # the first use of the day is recorded, not every request
        assert (await client.get("/api/auth/me", headers=bearer(token))).status_code == 200
    assert (await client.post("/api/auth/logout", headers=bearer(token))).status_code == 200
    assert (await client.get("/api/auth/me", headers=bearer(token))).status_code == 401

    body = await logs(client, tokens[Role.ADMIN], actor=operator.username)
    assert events(body) == ["logout", "token_used", "login_succeeded"]
    token_id = body["logs"][2]["details"]["token_id"]
    assert body["logs"][0]["details"] == {"token_id": token_id}
    assert body["logs"][1]["target"] == f"token:{token_id}"
    refused = await logs(client, tokens[Role.ADMIN], event="token_refused")
    assert refused["count"] == 1
    assert refused["logs"][0]["details"]["reason"].startswith("Token has been revoked")
    rows = as_text(await stored_rows(app))
    assert token not in rows
    assert operator.password not in rows
    assert token.split(".")[2] not in rows  # not even the signature


async def test_a_flood_of_bad_tokens_is_one_row(
    client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    for _ in range(5):
        answer = await client.get("/api/auth/me", headers=bearer("not-a-jwt"))
        assert answer.status_code == 401
    answer = await client.get("/api/auth/me")  # no credentials at all: nothing refused
    assert answer.status_code == 401
    body = await logs(client, tokens[Role.ADMIN], event="token_refused")
    assert body["count"] == 1
    assert body["logs"][0]["details"] == {"reason": "Invalid token", "path": "/api/auth/me"}
    assert body["logs"][0]["actor"] is None


async def test_a_forged_node_token_is_refused_and_recorded(
    client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    forged = jwt.encode({"kind": "node", "sub": "n1"}, "not-our-key-" * 4, algorithm="HS256")
    answer = await client.get("/api/v1/nodes/n1", headers=bearer(forged))
    assert answer.status_code == 401
    body = await logs(client, tokens[Role.ADMIN], event="token_refused")
    assert body["count"] == 1
    assert body["logs"][0]["details"]["path"] == "/api/v1/nodes/n1"
    assert forged not in str(body)
