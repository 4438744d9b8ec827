"""End to end: webhooks made over HTTP, delivered by the real worker on the dev server
to a real receiver on loopback, retried by Temporal with a short backoff (settings)."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook
from temporalio.testing import WorkflowEnvironment

from tests.e2e.stack import Stack, running_stack, stack_settings
from tests.support.helpers import eventually, polled
from tests.support.mqtt_fixtures import Broker
from tests.support.webhook_receiver import Call, Receiver, webhook_receiver

PATH = "/api/kubeedge/webhooks"
SECRET = "e2e-webhook-secret-" + uuid.uuid4().hex


@pytest.fixture
async def stack(
    dev_env: WorkflowEnvironment, kube_sandbox_url: str, mqtt_broker: Broker, tmp_path: Path
) -> AsyncIterator[Stack]:
    tag = uuid.uuid4().hex[:8]
    settings = stack_settings(
        data_dir=tmp_path, temporal=dev_env.client, sandbox_url=kube_sandbox_url, broker=mqtt_broker
    ).model_copy(
        update={
            "webhook_allow_private": True,  # the receiver listens on loopback
            "webhook_retry_initial_seconds": 0.2,
            "webhook_retry_max_interval_seconds": 0.5,
            "webhook_retry_window_seconds": 120.0,
            "kubeedge_namespace": f"ke-{tag}",
            "device_namespace": f"dev-{tag}",
            "backup_keep_last": 0,
            "backup_keep_days": 0,
        }
    )
    async with running_stack(settings, dev_env.client) as running:
        yield running


def verified(call: Call) -> dict[str, Any]:
    """The payload, once both signatures check out as a receiver checks them."""
    payload: dict[str, Any] = Webhook(SECRET.encode()).verify(call.body, call.headers)
    canonical = json.dumps(
        {"event": payload["event"], "data": payload["data"]}, sort_keys=True, separators=(",", ":")
    )
    digest = hmac.new(SECRET.encode(), canonical.encode(), hashlib.sha256).hexdigest()
    assert payload["signature"] == f"sha256={digest}"
    assert payload["id"] == call.headers["webhook-id"]
    return payload


async def create(stack: Stack, auth: dict[str, str], receiver: Receiver, events: list[str]) -> str:
    body = {"url": receiver.url, "events": events, "secret": SECRET}
    answer = await stack.http.post(PATH, json=body, headers=auth)
    assert answer.status_code == 201, answer.text
    webhook_id: str = answer.json()["id"]
    return webhook_id


async def delivery(
    stack: Stack, auth: dict[str, str], webhook_id: str, status: str
) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        listed = polled(await stack.http.get(f"{PATH}/{webhook_id}/deliveries", headers=auth))
        found = [d for d in (listed or {}).get("deliveries", []) if d["status"] == status]
        return found[0] if found else None

    return await eventually(check, within=60)


async def test_retried_ping_and_emitted_event_verify(stack: Stack) -> None:
    auth = await stack.login()
    async with webhook_receiver(statuses=[503]) as receiver:
        webhook_id = await create(stack, auth, receiver, ["ping", "backup_completed"])
        ping = await stack.http.post(f"{PATH}/{webhook_id}/test", headers=auth)
        assert ping.status_code == 202, ping.text

        first, second = (await receiver.called(2))[:2]
        assert first.body == second.body  # the same message, retried
        assert first.headers["webhook-id"] == second.headers["webhook-id"]
        assert verified(second)["event"] == "ping"
        done = await delivery(stack, auth, webhook_id, "delivered")
        assert (done["attempts"], done["last_status_code"]) == (2, 200)
        assert len(done["last_response"]) == 1024  # the receiver said more

        made = await stack.http.post(
            "/api/kubeedge/backup", json={"name": f"wh-{uuid.uuid4().hex[:6]}"}, headers=auth
        )
        assert made.status_code == 200, made.text
        calls = await receiver.called(3)
        event = verified(calls[2])
        assert event["event"] == "backup_completed"
        assert event["data"]["backup_id"] == made.json()["backup_id"]


async def test_dead_delivery_redelivered_and_410_disables(stack: Stack) -> None:
    auth = await stack.login()
    async with webhook_receiver(statuses=[400]) as receiver:
        webhook_id = await create(stack, auth, receiver, ["ping"])
        assert (await stack.http.post(f"{PATH}/{webhook_id}/test", headers=auth)).status_code == 202
        dead = await delivery(stack, auth, webhook_id, "dead")
        assert (dead["attempts"], dead["last_status_code"]) == (1, 400)  # final: no retry

        again = await stack.http.post(
            f"{PATH}/{webhook_id}/deliveries/{dead['delivery_id']}/redeliver", headers=auth
        )
        assert again.status_code == 202, again.text
        done = await delivery(stack, auth, webhook_id, "delivered")
        assert (done["delivery_id"], done["attempts"]) == (dead["delivery_id"], 2)
        twice = await stack.http.post(
            f"{PATH}/{webhook_id}/deliveries/{dead['delivery_id']}/redeliver", headers=auth
        )
        assert twice.status_code == 409  # only a dead delivery goes again

        receiver.statuses.append(410)
        assert (await stack.http.post(f"{PATH}/{webhook_id}/test", headers=auth)).status_code == 202

        async def disabled() -> dict[str, Any] | None:
            hook: dict[str, Any] | None = polled(
                await stack.http.get(f"{PATH}/{webhook_id}", headers=auth)
            )
            return hook if hook is not None and not hook["enabled"] else None

        assert "410" in (await eventually(disabled))["disabled_reason"]
        refused = await stack.http.post(f"{PATH}/{webhook_id}/test", headers=auth)
        assert refused.status_code == 409
        assert len(receiver.calls) == 3
