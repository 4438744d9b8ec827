"""End to end: a rule with for_seconds 0 fires on a hot sample and resolves on a cool one,
published on cloudcore/alerts and sent to a webhook subscribed to `alert`; the alert
outlives the evaluation run that raised it."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from adapters.mqtt.client import AsyncMqttClient, MiscTicker
from store.models import utcnow
from tests.e2e.command_stack import CommandStack, command_settings, running_command_stack
from tests.support.helpers import eventually, polled
from tests.support.mqtt_fixtures import Broker
from tests.support.webhook_receiver import Receiver, webhook_receiver
from workflows.contracts.live import ALERTS_TOPIC
from workflows.contracts.monitoring import ALERT_EVALUATION_WORKFLOW, AlertEvaluationInput


@pytest.fixture
async def stack(
    dev_env: WorkflowEnvironment, kube_sandbox_url: str, mqtt_broker: Broker, tmp_path: Path
) -> AsyncIterator[CommandStack]:
    settings = command_settings(
        data_dir=tmp_path, temporal=dev_env.client, sandbox_url=kube_sandbox_url, broker=mqtt_broker
    ).model_copy(update={"webhook_allow_private": True})  # the receiver is on loopback
    async with running_command_stack(settings, dev_env.client) as running:
        yield running


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with webhook_receiver() as listening:
        yield listening


async def alerts_topic(broker: Broker) -> tuple[AsyncMqttClient, list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []
    client = AsyncMqttClient(
        host=broker.host,
        port=broker.port,
        client_id=f"alerts-{uuid.uuid4().hex[:6]}",
        ticker=MiscTicker(),
        credentials=broker.credentials,
    )
    client.on_message = lambda message: seen.append(json.loads(message.payload))
    client.on_connect = lambda: client.subscribe([(ALERTS_TOPIC, 1)])
    await client.start()
    return client, seen


async def start_evaluation(stack: CommandStack) -> Any:
    return await stack.temporal.start_workflow(
        ALERT_EVALUATION_WORKFLOW,
        AlertEvaluationInput(interval_seconds=1),
        id=f"alert-evaluation-{uuid.uuid4().hex[:8]}",
        task_queue=stack.settings.task_queue,
    )


async def test_an_alert_fires_resolves_and_outlives_its_evaluation_run(
    stack: CommandStack, mqtt_broker: Broker, receiver: Receiver
) -> None:
    auth = stack.auth
    node = await stack.http.post("/api/v1/nodes", json={"name": "hot-node-1"}, headers=auth)
    assert node.status_code == 201, node.text
    node_id, device_id = node.json()["id"], node.json()["device_id"]
    rule = {"metric": "cpu_usage", "op": ">", "threshold": 95, "for_seconds": 0}
    put = await stack.http.put("/api/kubeedge/alerts/rules/very_hot", json=rule, headers=auth)
    assert put.status_code == 200, put.text
    subscriber, published = await alerts_topic(mqtt_broker)
    hook = await stack.http.post(
        "/api/kubeedge/webhooks",
        json={"url": receiver.url, "events": ["alert"], "secret": "s" * 32},
        headers=auth,
    )
    assert hook.status_code == 201, hook.text
    run = await start_evaluation(stack)
    try:

        async def post(cpu: float) -> None:
            body = {"timestamp": utcnow().isoformat(), "cpu_usage": cpu}
            answer = await stack.http.post(
                f"/api/v1/metrics/nodes/{node_id}", json=body, headers=auth
            )
            # Samples are kept per second; one in the same second replaces the last.
            assert answer.status_code == 200, answer.text

        async def alerts(state: str) -> list[dict[str, Any]] | None:
            answer = await stack.http.get(
                f"/api/kubeedge/alerts?state={state}&device_id={device_id}", headers=auth
            )
            listed = polled(answer)
            found: list[dict[str, Any]] = listed["alerts"] if listed is not None else []
            return found or None

        await post(99)
        [firing] = await eventually(lambda: alerts("firing"))
        assert (firing["rule"], firing["type"], firing["value"]) == ("very_hot", "very_hot", 99)

        # The evaluating run goes; a new one finds the alert still firing, raises no other.
        await run.terminate("restart")
        run = await start_evaluation(stack)
        await post(98)
        await eventually(lambda: _value_is(stack, firing["id"], 98))
        assert [a["id"] for a in await alerts("firing") or []] == [firing["id"]]

        await post(10)
        [resolved] = await eventually(lambda: alerts("resolved"))
        assert resolved["id"] == firing["id"]

        async def both_published() -> list[str] | None:
            states = [m["state"] for m in published if m.get("alert_id") == firing["id"]]
            return states if len(states) >= 2 else None

        assert await eventually(both_published) == ["firing", "resolved"]
        assert all(m["event"] == "alert" for m in published)
        sent = [json.loads(call.body) for call in await receiver.called(2)]
        assert sorted((m["event"], m["data"]["state"]) for m in sent) == [
            ("alert", "firing"),
            ("alert", "resolved"),
        ]
        assert {m["data"]["alert_id"] for m in sent} == {firing["id"]}
    finally:
        await run.terminate("test over")
        await subscriber.close()


async def _value_is(stack: CommandStack, alert_id: int, value: float) -> bool:
    answer = await stack.http.get("/api/kubeedge/alerts?state=firing", headers=stack.auth)
    listed = polled(answer) or {"alerts": []}
    return any(a["id"] == alert_id and a["value"] == value for a in listed["alerts"])
