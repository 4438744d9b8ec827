"""The bridge against a real broker, store and Temporal dev server."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from adapters.mqtt.client import AsyncMqttClient, MiscTicker
from simulator.device import DeviceSpec, SimulatedDevice, Timing
from store import commands
from store.devices import inventory as devices
from store.devices import presence
from store.settings import Settings
from tests.support.helpers import eventually
from tests.support.mqtt_fixtures import Broker, broker_settings, device_account
from workers.bridge.service import Bridge, running_bridge
from workflows.contracts.commands import CommandState, CommandStatus, DeviceResult

Sessions = async_sessionmaker[AsyncSession]


class Bus:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    async def seen(self, kind: str, device_id: str) -> dict[str, Any]:
        async def found() -> dict[str, Any] | None:
            return next(
                (e for e in self.events if e["event"] == kind and e.get("device_id") == device_id),
                None,
            )

        return await eventually(found)


@pytest.fixture
async def bus(mqtt_broker: Broker) -> AsyncIterator[Bus]:
    listener = AsyncMqttClient(
        host=mqtt_broker.host,
        port=mqtt_broker.port,
        client_id=f"bus-{uuid.uuid4().hex[:8]}",
        ticker=MiscTicker(),
        credentials=mqtt_broker.credentials,
    )
    seen = Bus()
    listener.on_connect = lambda: listener.subscribe([("edgewright/events/#", 0)])

    def keep(message: Any) -> None:
        body = json.loads(message.payload)
        seen.events.extend(body.get("events", [body]))  # the bridge batches

    listener.on_message = keep
    await listener.start()
    async with asyncio.timeout(10):
        await listener.connected.wait()
    yield seen
    await listener.close()


@pytest.fixture
async def bridge(
    dev_env: WorkflowEnvironment, sessions: Sessions, mqtt_broker: Broker, bus: Bus
) -> AsyncIterator[Bridge]:
    settings = Settings.model_validate(
        {
            **broker_settings(mqtt_broker),
            "bridge_client_id": f"bridge-{uuid.uuid4().hex[:8]}",
            "bridge_share_group": f"g{uuid.uuid4().hex[:8]}",
            "bridge_flush_interval_seconds": 0.1,
            "device_offline_after_seconds": 1.0,
        }
    )
    async with running_bridge(settings=settings, temporal=dev_env.client, sessions=sessions) as b:
        async with asyncio.timeout(10):
            await b.subscribed.wait()  # the live connection's SUBACK
            await b.durable.subscribed.wait()  # the only replica: it holds the lease
        yield b


async def known_device(
    sessions: Sessions, *, mqtt: Broker, own_account: bool = False
) -> SimulatedDevice:
    device_id = f"dev-{uuid.uuid4().hex[:8]}"
    async with sessions() as session, session.begin():
        await devices.upsert_device(
            session, device_id=device_id, node_name=f"{device_id}-node", status="joined"
        )
    spec = DeviceSpec(device_id=device_id, node_name=f"{device_id}-node", device_type="camera")
    return SimulatedDevice(
        spec=spec,
        host=mqtt.host,
        port=mqtt.port,
        ticker=MiscTicker(),
        timing=Timing(heartbeat_interval=3600),
        # Its own account, as a join gives it; or the services', as tests may.
        credentials=await device_account(mqtt, device_id) if own_account else mqtt.credentials,
    )


async def online(sessions: Sessions, device_id: str) -> bool | None:
    async with sessions() as session:
        found = await presence.presence_of(session, device_id=device_id)
    return None if found is None else found.online


async def test_heartbeats_and_last_wills_make_presence(
    bridge: Bridge, sessions: Sessions, mqtt_broker: Broker, bus: Bus
) -> None:
    device = await known_device(sessions, mqtt=mqtt_broker)
    device_id = device.spec.device_id
    await device.start()
    try:
        await eventually(lambda: online(sessions, device_id))
        beat = await bus.seen("heartbeat", device_id)
        assert beat["node_name"] == f"{device_id}-node"
        assert beat["cpu"].endswith("%")
        await bus.seen("device_online", device_id)

        device.drop()  # the broker publishes the last will

        async def offline() -> bool:
            return await online(sessions, device_id) is False

        await eventually(offline)
        left = await bus.seen("device_left", device_id)
        assert left["reason"] == "connection_lost"
    finally:
        await device.stop()


async def test_silent_devices_are_swept_offline(
    bridge: Bridge, sessions: Sessions, mqtt_broker: Broker, bus: Bus
) -> None:
    device = await known_device(sessions, mqtt=mqtt_broker)
    device_id = device.spec.device_id
    await device.start()
    try:
        await eventually(lambda: online(sessions, device_id))
        # Connected but silent: the next heartbeat is an hour away.
        left = await bus.seen("device_left", device_id)
        assert left["reason"] == "heartbeat_timeout"
        assert await online(sessions, device_id) is False
    finally:
        await device.stop()


async def test_a_result_for_a_finished_command_is_kept_as_late(
    bridge: Bridge, sessions: Sessions, mqtt_broker: Broker, bus: Bus
) -> None:
    device = await known_device(sessions, mqtt=mqtt_broker)
    device_id = device.spec.device_id
    now = datetime.now(UTC)
    timed_out = CommandStatus(
        command_id=f"cmd_{uuid.uuid4().hex[:8]}",
        device_id=device_id,
        command="ping",
        state=CommandState.TIMED_OUT,
        timeout_seconds=1,
        queued_at=now,
        sent_at=now,
        completed_at=now,
    )
    async with sessions() as session, session.begin():
        await commands.save_command(session, status=timed_out, workflow_id="gone")
    await device.start()
    try:
        await eventually(lambda: online(sessions, device_id))
        # The device answers long after: no run is there to take it.
        device.mqtt.publish(
            f"cloudcore/device/{device_id}/result",
            json.dumps({"command_id": timed_out.command_id, "success": True, "result": "pong"}),
            qos=1,
        )
        device.mqtt.publish(f"cloudcore/device/{device_id}/result", b"not json", qos=1)
        event = await bus.seen("command_result", device_id)
        assert (event["late"], event["command_id"]) == (True, timed_out.command_id)
        async with sessions() as session:
            row = await commands.get_command(session, command_id=timed_out.command_id)
        assert row is not None
        assert row.status == "timed_out"
        assert row.late_result is not None
        assert row.late_result["result"] == "pong"
        assert bridge.ingest.counts["malformed"] >= 1
    finally:
        await device.stop()


async def finished_command(sessions: Sessions, device_id: str) -> str:
    """A command of `device_id` that timed out: no run is left to take an answer."""
    now = datetime.now(UTC)
    status = CommandStatus(
        command_id=f"cmd_{uuid.uuid4().hex[:8]}",
        device_id=device_id,
        command="capture_image",
        state=CommandState.TIMED_OUT,
        timeout_seconds=1,
        queued_at=now,
        sent_at=now,
        completed_at=now,
    )
    async with sessions() as session, session.begin():
        await commands.save_command(session, status=status, workflow_id="gone")
    return status.command_id


async def late_result(sessions: Sessions, command_id: str) -> dict[str, Any] | None:
    async with sessions() as session:
        row = await commands.get_command(session, command_id=command_id)
    return None if row is None else row.late_result


async def test_oversized_results_do_not_hold_up_the_fleet(
    bridge: Bridge, sessions: Sessions, mqtt_broker: Broker
) -> None:
    # More oversized answers than Mosquitto lets a client have unacknowledged by default
    # (20), each bigger than Temporal takes in a signal (2 MiB), even for a finished run.
    camera, other, leaving = [await known_device(sessions, mqtt=mqtt_broker) for _ in range(3)]
    for device in (camera, other, leaving):
        await device.start()
    try:
        for device in (camera, other, leaving):
            await eventually(lambda d=device.spec.device_id: online(sessions, d))  # type: ignore[misc]
        huge = [await finished_command(sessions, camera.spec.device_id) for _ in range(22)]
        image = "A" * (2 * 1024 * 1024 + 512 * 1024)
        for command_id in huge:
            body = {"command_id": command_id, "success": True, "result": {"image": image}}
            camera.mqtt.publish(
                f"cloudcore/device/{camera.spec.device_id}/result", json.dumps(body), qos=1
            )

        # Once the bridge holds a window's worth of them, everything else queues behind.
        async def window_full() -> bool:
            return bridge.ingest.counts["result"] >= 20

        await eventually(window_full, within=60)
        small = await finished_command(sessions, other.spec.device_id)
        body = {"command_id": small, "success": True, "result": "pong"}
        other.mqtt.publish(
            f"cloudcore/device/{other.spec.device_id}/result", json.dumps(body), qos=1
        )
        leaving.drop()  # its last will must get through too

        answer = await eventually(lambda: late_result(sessions, small), within=60)
        assert answer["result"] == "pong"

        async def offline() -> bool:
            return await online(sessions, leaving.spec.device_id) is False

        await eventually(offline, within=60)
        # Each oversized answer is kept as what it is: a failure, with a short preview.
        for command_id in huge:
            kept = await eventually(lambda c=command_id: late_result(sessions, c), within=60)  # type: ignore[misc]
            assert kept["success"] is False
            assert kept["error"].startswith("result too large")
            assert kept["result"]["preview"].startswith('{"image": "AAAA')
            assert len(json.dumps(kept)) < 2048
    finally:
        for device in (camera, other, leaving):
            await device.stop()


async def test_a_result_temporal_refuses_is_passed_on_as_a_failure(
    bridge: Bridge, sessions: Sessions
) -> None:
    # Within the bridge's bound (it may be set up to 2 MiB), yet more than Temporal takes
    # once wrapped as a signal: refused for good, so not retried for good.
    command_id = await finished_command(sessions, "dev-refused")
    refused = DeviceResult(
        command_id=command_id,
        device_id="dev-refused",
        success=True,
        result={"image": "A" * (2 * 1024 * 1024)},
        received_at=datetime.now(UTC),
    )
    async with asyncio.timeout(60):
        await bridge.signals.deliver_result(refused)
    kept = await late_result(sessions, command_id)
    assert kept is not None
    assert kept["success"] is False
    assert kept["result"] is None
    assert kept["error"].startswith("result could not be delivered: ")


async def test_a_device_cannot_answer_another_devices_command(
    bridge: Bridge, sessions: Sessions, mqtt_broker: Broker
) -> None:
    owner, intruder = [
        await known_device(sessions, mqtt=mqtt_broker, own_account=True) for _ in range(2)
    ]
    for device in (owner, intruder):
        await device.start()
    try:
        for device in (owner, intruder):
            await eventually(lambda d=device.spec.device_id: online(sessions, d))  # type: ignore[misc]
        command_id = await finished_command(sessions, owner.spec.device_id)
        # On its own topic (all the broker lets it use), naming the other's command.
        forged = {"command_id": command_id, "success": True, "result": "forged"}
        intruder.mqtt.publish(
            f"cloudcore/device/{intruder.spec.device_id}/result", json.dumps(forged), qos=1
        )

        async def handled() -> bool:
            signals = bridge.signals
            return signals.late_results + getattr(signals, "refused", 0) >= 1

        await eventually(handled)
        answer = {"command_id": command_id, "success": True, "result": "genuine"}
        owner.mqtt.publish(
            f"cloudcore/device/{owner.spec.device_id}/result", json.dumps(answer), qos=1
        )

        async def owners_answer() -> dict[str, Any] | None:
            kept = await late_result(sessions, command_id)
            return kept if kept is not None and kept["device_id"] == owner.spec.device_id else None

        kept = await eventually(owners_answer)
        assert kept["result"] == "genuine"
        assert bridge.signals.refused == 1
    finally:
        for device in (owner, intruder):
            await device.stop()
