"""Webhook CRUD against the store: validation, roles, the secret never answered and kept
sealed. The app has no Temporal; deliveries run in tests/e2e/webhooks/."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from api.core.state import app_sessions, app_settings
from store import webhooks
from store.access.users import Role
from store.sealing import unseal
from tests.api.helpers import bearer

PATH = "/api/kubeedge/webhooks"
SECRET = "your-webhook-secret"
SEED = {  # the CloudCore document's body, with a public address
    "url": "https://93.184.215.14/webhook",
    "events": ["device_joined", "device_left", "alert"],
    "secret": SECRET,
}


async def create(client: httpx.AsyncClient, tokens: dict[Role, str], **changes: object) -> str:
    answer = await client.post(PATH, json={**SEED, **changes}, headers=bearer(tokens[Role.ADMIN]))
    assert answer.status_code == 201, answer.text
    assert SECRET not in answer.text
    webhook_id: str = answer.json()["id"]
    return webhook_id


async def test_crud_never_answers_the_secret(
    app: FastAPI, client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    admin = bearer(tokens[Role.ADMIN])
    webhook_id = await create(client, tokens)
    got = await client.get(f"{PATH}/{webhook_id}", headers=admin)
    assert got.status_code == 200
    assert got.json()["events"] == SEED["events"]
    assert SECRET not in got.text
    assert "secret" not in got.json()

    async with app_sessions(app)() as session:
        row = await webhooks.get_webhook(session, webhook_id)
        assert row is not None
        assert SECRET not in row.secret_sealed
        assert unseal(app_settings(app), row.secret_sealed) == SECRET
        sealed_before = row.secret_sealed

    rotated = "a-brand-new-secret-value"
    put = await client.put(
        f"{PATH}/{webhook_id}", json={"secret": rotated, "events": ["ping"]}, headers=admin
    )
    assert put.status_code == 200, put.text
    assert rotated not in put.text
    assert put.json()["webhook"]["events"] == ["ping"]
    async with app_sessions(app)() as session:
        row = await webhooks.get_webhook(session, webhook_id)
        assert row is not None
        assert row.secret_sealed != sealed_before
        assert unseal(app_settings(app), row.secret_sealed) == rotated

    listed = await client.get(PATH, params={"limit": 1}, headers=admin)
    assert listed.json()["pagination"] == {"total": 1, "page": 1, "limit": 1, "pages": 1}
    assert (await client.delete(f"{PATH}/{webhook_id}", headers=admin)).status_code == 200
    assert (await client.get(f"{PATH}/{webhook_id}", headers=admin)).status_code == 404
    deliveries = await client.get(f"{PATH}/{webhook_id}/deliveries", headers=admin)
    assert deliveries.status_code == 404


async def test_bad_bodies_are_400_in_the_envelope(
    client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    admin = bearer(tokens[Role.ADMIN])
    bad = [
        {**SEED, "events": ["device_joined", "device_exploded"]},
        {**SEED, "events": []},
        {**SEED, "url": "ftp://93.184.215.14/hook"},
        {**SEED, "secret": "short"},
        {**SEED, "extra": 1},
        {key: value for key, value in SEED.items() if key != "secret"},
    ]
    for body in bad:
        answer = await client.post(PATH, json=body, headers=admin)
        assert answer.status_code == 400, (body, answer.text)
        assert answer.json()["status"] == "error"
        assert SECRET not in answer.text
    listed = await client.get(PATH, headers=admin)
    assert listed.json()["pagination"]["total"] == 0


async def test_private_targets_refused_by_default(
    client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    admin = bearer(tokens[Role.ADMIN])
    for url in ("http://127.0.0.1:9/hook", "http://169.254.169.254/", "http://localhost/"):
        answer = await client.post(PATH, json={**SEED, "url": url}, headers=admin)
        assert answer.status_code == 400, answer.text
        assert "EDGEWRIGHT_WEBHOOK_ALLOW_PRIVATE" in answer.json()["message"]
    webhook_id = await create(client, tokens)
    moved = await client.put(
        f"{PATH}/{webhook_id}", json={"url": "http://10.0.0.1/"}, headers=admin
    )
    assert moved.status_code == 400


async def test_roles(client: httpx.AsyncClient, tokens: dict[Role, str]) -> None:
    webhook_id = await create(client, tokens)
    operator, viewer = bearer(tokens[Role.OPERATOR]), bearer(tokens[Role.VIEWER])
    assert (await client.get(PATH, headers=operator)).status_code == 200
    assert (await client.get(PATH, headers=viewer)).status_code == 403
    assert (await client.post(PATH, json=SEED, headers=operator)).status_code == 403
    changed = await client.put(f"{PATH}/{webhook_id}", json={"enabled": False}, headers=operator)
    assert changed.status_code == 403
    assert (await client.delete(f"{PATH}/{webhook_id}", headers=operator)).status_code == 403
    assert (await client.get(PATH)).status_code == 401
