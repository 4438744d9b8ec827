"""Command activities against the real store and broker."""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.commands.commands import CommandActivities
from activities.webhooks.emitter import WebhookEmitter
from adapters.mqtt.client import AsyncMqttClient, MiscTicker
from adapters.mqtt.events import PublisherEvents
from adapters.mqtt.publisher import MqttPublisher
from store import commands, webhooks
from store.devices import inventory as devices
from store.devices import presence
from store.devices.presence import Heartbeat
from store.sealing import seal
from store.settings import Settings
from tests.support.helpers import eventually
from tests.support.mqtt_fixtures import Broker
from workflows.contracts.commands import (
    CommandState,
    CommandStatus,
    DeviceSelection,
    DispatchInput,
    JobPageInput,
)
from workflows.contracts.live import BROADCAST_TOPIC
from workflows.contracts.webhooks import WebhookEvent, delivery_workflow_id

Sessions = async_sessionmaker[AsyncSession]


@dataclass
class Heard:
    messages: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def on(self, topic: str) -> list[dict[str, Any]]:
        return [payload for seen, payload in self.messages if seen == topic]


@pytest.fixture
async def heard(mqtt_broker: Broker) -> AsyncIterator[Heard]:
    """Everything published on command, broadcast and event topics while a test runs."""
    seen = Heard()
    listener = AsyncMqttClient(
        host=mqtt_broker.host,
        port=mqtt_broker.port,
        client_id=f"listener-{uuid.uuid4().hex[:8]}",
        ticker=MiscTicker(),
        credentials=mqtt_broker.credentials,
    )
    topics = [("cloudcore/device/+/command", 1), (BROADCAST_TOPIC, 1), ("edgewright/events/#", 0)]
    listener.on_connect = lambda: listener.subscribe(topics)
    listener.on_message = lambda m: seen.messages.append((m.topic, json.loads(m.payload)))
    subscribed = asyncio.Event()
    listener.on_subscribed = subscribed.set
    await listener.start()
    async with asyncio.timeout(10):
        await subscribed.wait()  # the SUBACK: a publish before it would be lost
    yield seen
    await listener.close()


@pytest.fixture
async def acts(sessions: Sessions, mqtt_broker: Broker) -> AsyncIterator[CommandActivities]:
    publisher = MqttPublisher(
        host=mqtt_broker.host,
        port=mqtt_broker.port,
        client_id=f"acts-{uuid.uuid4().hex[:8]}",
        credentials=mqtt_broker.credentials,
    )
    await publisher.start()
    yield CommandActivities(
        sessions=sessions, publisher=publisher, events=PublisherEvents(publisher=publisher)
    )
    await publisher.stop()


def queued(device_id: str, command_id: str | None = None) -> CommandStatus:
    return CommandStatus(
        command_id=command_id or f"cmd_{uuid.uuid4().hex[:8]}",
        device_id=device_id,
        command="capture_image",
        parameters={"resolution": "1920x1080"},
        state=CommandState.QUEUED,
        timeout_seconds=30,
        queued_at=datetime.now(UTC),
    )


async def add_device(sessions: Sessions, device_id: str, *, online: bool) -> None:
    async with sessions() as session, session.begin():
        await devices.upsert_device(
            session,
            device_id=device_id,
            node_name=f"{device_id}-node",
            status="joined",
            device_type="camera",
        )
        if online:
            beat = Heartbeat(device_id=device_id, at=datetime.now(UTC), usage={})
            await presence.apply_heartbeats(session, beats=[beat])


async def run(activity: Any, arg: Any) -> Any:
    return await ActivityEnvironment().run(activity, arg)


async def test_unknown_and_offline_devices_get_nothing_published(
    acts: CommandActivities, sessions: Sessions, heard: Heard
) -> None:
    unknown = await run(acts.dispatch_command, DispatchInput(status=queued("nobody")))
    assert (unknown.known, unknown.online) == (False, False)

    await add_device(sessions, "cam-off", online=False)
    status = queued("cam-off")
    offline = await run(acts.dispatch_command, DispatchInput(status=status))
    assert (offline.known, offline.online, offline.node_name) == (True, False, "cam-off-node")
    async with sessions() as session:
        row = await commands.get_command(session, command_id=status.command_id)
    assert row is not None
    assert row.status == "queued"
    assert heard.on("cloudcore/device/cam-off/command") == []


async def test_an_online_device_gets_the_command_on_its_topic(
    acts: CommandActivities, sessions: Sessions, heard: Heard
) -> None:
    await add_device(sessions, "cam-on", online=True)
    status = queued("cam-on")
    outcome = await run(acts.dispatch_command, DispatchInput(status=status))
    assert (outcome.known, outcome.online) == (True, True)
    assert outcome.sent_at is not None

    topic = "cloudcore/device/cam-on/command"
    sent = await eventually(lambda: _first(heard.on(topic)))
    # The topic contract: {command_id, command, parameters, timeout, sent_at}.
    assert set(sent) == {"command_id", "command", "parameters", "timeout", "sent_at"}
    assert (sent["command_id"], sent["timeout"]) == (status.command_id, 30)
    event = await eventually(lambda: _first(heard.on("edgewright/events/command_sent")))
    assert event["device_id"] == "cam-on"
    assert event["node_name"] == "cam-on-node"

    done = status.model_copy(
        update={
            "state": CommandState.COMPLETED,
            "sent_at": outcome.sent_at,
            "completed_at": datetime.now(UTC),
            "success": True,
            "result": {"image_url": "file:///x.jpg"},
        }
    )
    await run(acts.record_command, done)
    result = await eventually(lambda: _first(heard.on("edgewright/events/command_result")))
    assert (result["status"], result["result"]) == ("completed", {"image_url": "file:///x.jpg"})
    async with sessions() as session:
        row = await commands.get_command(session, command_id=status.command_id)
    assert row is not None
    assert (row.status, row.node_name) == ("completed", "cam-on-node")


async def test_broadcasts_and_job_pages(
    acts: CommandActivities, sessions: Sessions, heard: Heard
) -> None:
    for name in ("cam-a", "cam-b"):
        await add_device(sessions, name, online=name == "cam-a")
    status = queued("unused").model_copy(update={"device_id": None, "device_type": "camera"})
    outcome = await run(acts.publish_broadcast, DispatchInput(status=status))
    assert outcome.expected == 1
    sent = await eventually(lambda: _first(heard.on(BROADCAST_TOPIC)))
    assert (sent["device_type"], sent["command"]) == ("camera", "capture_image")

    selection = DeviceSelection(device_type="camera")
    assert await run(acts.count_job_devices, selection) == 2
    page = JobPageInput(selection=selection, after="cam-a", limit=10)
    assert await run(acts.select_job_devices, page) == ["cam-b"]


async def _first(items: list[dict[str, Any]]) -> dict[str, Any] | None:
    return items[0] if items else None


async def test_an_outcome_and_its_webhook_deliveries_are_recorded_once(
    sessions: Sessions, mqtt_broker: Broker, dev_env: WorkflowEnvironment
) -> None:
    """record_command writes the row and the deliveries together and starts their runs;
    run again (a retried activity), it keeps both and starts nothing twice."""
    config = Settings(secret_key=secrets.token_urlsafe(48))
    async with sessions() as session, session.begin():
        hook = await webhooks.create_webhook(
            session,
            url="https://hooks.example.com/edgewright",
            events=[WebhookEvent.COMMAND_RESULT.value],
            secret_sealed=seal(config, "s" * 32),
            description=None,
            created_by="test",
        )
    publisher = MqttPublisher(
        host=mqtt_broker.host,
        port=mqtt_broker.port,
        client_id=f"acts-{uuid.uuid4().hex[:8]}",
        credentials=mqtt_broker.credentials,
    )
    await publisher.start()
    emitter = WebhookEmitter(settings=config, sessions=sessions, client=dev_env.client)
    acts = CommandActivities(
        sessions=sessions,
        publisher=publisher,
        events=PublisherEvents(publisher=publisher),
        webhooks=emitter,
    )
    try:
        await add_device(sessions, "cam-hook", online=True)
        sent = queued("cam-hook").model_copy(update={"state": CommandState.SENT})
        await run(acts.record_command, sent)  # not final: no delivery
        async with sessions() as session:
            _, none_yet = await webhooks.list_deliveries(
                session, webhook_id=hook.id, offset=0, limit=10
            )
        assert none_yet == 0
        done = sent.model_copy(
            update={"state": CommandState.COMPLETED, "completed_at": datetime.now(UTC)}
        )
        await run(acts.record_command, done)
        await run(acts.record_command, done)
    finally:
        await publisher.stop()
    async with sessions() as session:
        row = await commands.get_command(session, command_id=done.command_id)
        rows, total = await webhooks.list_deliveries(
            session, webhook_id=hook.id, offset=0, limit=10
        )
    assert row is not None
    assert row.status == "completed"
    assert total == 1
    assert rows[0].event_id == f"command_result:{done.command_id}"
    started = dev_env.client.get_workflow_handle(delivery_workflow_id(rows[0].delivery_id))
    assert (await started.describe()).id == delivery_workflow_id(rows[0].delivery_id)
