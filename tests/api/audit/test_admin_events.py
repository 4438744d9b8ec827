"""403s and admins' changes in the audit log, and who may read it."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from store.access.users import Role
from tests.api.audit.helpers import LOGS, as_text, events, logs, stored_rows
from tests.api.helpers import ApiUser, bearer


async def test_only_admins_read_it_and_every_403_is_recorded(
    client: httpx.AsyncClient, users: dict[Role, ApiUser], tokens: dict[Role, str]
) -> None:
    for role in (Role.VIEWER, Role.OPERATOR):
        answer = await client.get(LOGS, headers=bearer(tokens[role]))
        assert answer.status_code == 403
        assert answer.json()["code"] == "API-003"  # the CloudCore envelope
    assert (await client.get(LOGS)).status_code == 401

    body = await logs(client, tokens[Role.ADMIN], event="access_denied")
    assert [item["actor"] for item in body["logs"]] == [
        users[Role.OPERATOR].username,
        users[Role.VIEWER].username,
    ]
    denied = body["logs"][1]
    assert denied["target"] == f"GET {LOGS}"
    assert denied["outcome"] == "denied"
    assert denied["source_ip"] == "127.0.0.1"
    assert denied["details"] == {"reason": "This needs the admin role; you are viewer"}


async def test_api_keys_users_config_and_webhook_secrets(
    app: FastAPI, client: httpx.AsyncClient, users: dict[Role, ApiUser], tokens: dict[Role, str]
) -> None:
    admin = bearer(tokens[Role.ADMIN])
    created = await client.post(
        "/api/auth/api-keys", json={"name": "ci", "role": "operator"}, headers=admin
    )
    assert created.status_code == 201
    secret, key_id = created.json()["key"], created.json()["api_key"]["key_id"]
    assert (await client.delete(f"/api/auth/api-keys/{key_id}", headers=admin)).status_code == 200

    password = "A-long-enough-passw0rd-for-her"
    user = await client.post(
        "/api/auth/users",
        json={"username": "alice", "password": password, "role": "viewer"},
        headers=admin,
    )
    assert user.status_code == 201, user.text
    assert (
        await client.delete(f"/api/auth/users/{user.json()['user']['id']}", headers=admin)
    ).status_code == 200

    config = await client.put("/api/kubeedge/config", json={"token_expiry": 2}, headers=admin)
    assert config.status_code == 200, config.text

    webhook_secret = "a-webhook-secret-to-rotate"
    hook = await client.post(
        "/api/kubeedge/webhooks",
        json={
            "url": "https://93.184.215.14/hook",
            "events": ["ping"],
            "secret": "the-first-webhook-secret",
        },
        headers=admin,
    )
    assert hook.status_code == 201, hook.text
    hook_id = hook.json()["id"]
    put = await client.put(
        f"/api/kubeedge/webhooks/{hook_id}", json={"secret": webhook_secret}, headers=admin
    )
    assert put.status_code == 200, put.text

    body = await logs(client, tokens[Role.ADMIN], actor=users[Role.ADMIN].username)
    # token_used is written as the first answer starts, after that request's own commit.
    assert [event for event in events(body) if event != "token_used"] == [
        "webhook_secret_rotated",
        "config_changed",
        "user_deleted",
        "user_created",
        "api_key_revoked",
        "api_key_created",
    ]
    by_event = {item["event"]: item for item in body["logs"]}
    assert by_event["api_key_created"]["target"] == f"api_key:{key_id}"
    assert by_event["api_key_created"]["details"]["role"] == "operator"
    assert by_event["user_created"]["details"]["role"] == "viewer"
    assert by_event["config_changed"]["details"] == {"changes": {"token_expiry_hours": 2.0}}
    assert by_event["webhook_secret_rotated"]["target"] == f"webhook:{hook_id}"

    answer = await client.get(LOGS, headers=admin)
    stored = as_text(await stored_rows(app))
    for credential in (secret, password, webhook_secret, "the-first-webhook-secret"):
        assert credential not in answer.text
        assert credential not in stored
