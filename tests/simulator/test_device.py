"""A simulated device against a real broker: the topic contract from the device's side."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from kubernetes import client as k8s

from adapters.kubernetes.manifests import mqtt_secret_body
from adapters.mqtt.client import AsyncMqttClient, MiscTicker
from simulator.device import DeviceSpec, Mode, SimulatedDevice, Timing
from simulator.edgecore import NodeRegistry
from simulator.enroll import EdgecoreRole, JoinedDevices
from tests.support.helpers import eventually
from tests.support.kube_fixtures import sandbox_api_client
from tests.support.mqtt_fixtures import Broker, device_account
from workflows.contracts.live import BROADCAST_TOPIC


class Cloud:
    """The cloud side of one device's topics: sends commands, keeps what comes back."""

    def __init__(self, client: AsyncMqttClient, device_id: str) -> None:
        self.client = client
        self.device_id = device_id
        self.results: list[dict[str, Any]] = []
        self.statuses: list[dict[str, Any]] = []

    def command(self, command_id: str, command: str, **parameters: Any) -> None:
        payload = {"command_id": command_id, "command": command, "parameters": parameters}
        self.client.publish(
            f"cloudcore/device/{self.device_id}/command", json.dumps(payload), qos=1
        )

    async def result(self, command_id: str) -> dict[str, Any]:
        async def found() -> dict[str, Any] | None:
            return next((r for r in self.results if r["command_id"] == command_id), None)

        return await eventually(found)


@pytest.fixture
async def device(mqtt_broker: Broker) -> AsyncIterator[SimulatedDevice]:
    spec = DeviceSpec(
        device_id=f"dev-{uuid.uuid4().hex[:8]}", node_name="node-x", device_type="camera"
    )
    simulated = SimulatedDevice(
        spec=spec,
        host=mqtt_broker.host,
        port=mqtt_broker.port,
        ticker=MiscTicker(),
        timing=Timing(heartbeat_interval=3600, answer_delay=0),
        credentials=await device_account(mqtt_broker, spec.device_id),
    )
    yield simulated
    await simulated.stop()


@pytest.fixture
async def cloud(mqtt_broker: Broker, device: SimulatedDevice) -> AsyncIterator[Cloud]:
    client = AsyncMqttClient(
        host=mqtt_broker.host,
        port=mqtt_broker.port,
        client_id=f"cloud-{uuid.uuid4().hex[:8]}",
        ticker=MiscTicker(),
        credentials=mqtt_broker.credentials,
    )
    side = Cloud(client, device.spec.device_id)
    prefix = f"cloudcore/device/{device.spec.device_id}"
    client.on_connect = lambda: client.subscribe([(f"{prefix}/result", 1), (f"{prefix}/status", 1)])

    def keep(message: Any) -> None:
        target = side.results if message.topic.endswith("/result") else side.statuses
        target.append(json.loads(message.payload))

    client.on_message = keep
    subscribed = asyncio.Event()
    client.on_subscribed = subscribed.set
    await client.start()
    async with asyncio.timeout(10):
        await subscribed.wait()  # the SUBACK: the device's one heartbeat comes after it
    await device.start()
    await eventually(lambda: _truthy(side.statuses))  # online: the first heartbeat
    yield side
    await client.close()


async def _truthy(items: list[Any]) -> bool:
    return bool(items)


async def test_answers_commands_once_each(device: SimulatedDevice, cloud: Cloud) -> None:
    assert cloud.statuses[0]["online"] is True
    assert cloud.statuses[0]["node_name"] == "node-x"
    cloud.command("c1", "capture_image", resolution="640x480")
    cloud.command("c1", "capture_image", resolution="640x480")  # a redelivery
    answer = await cloud.result("c1")
    assert answer["success"] is True
    assert answer["result"]["resolution"] == "640x480"
    cloud.command("c2", "no_such_command")
    unknown = await cloud.result("c2")
    assert (unknown["success"], unknown["error"]) == (False, "unknown command 'no_such_command'")
    assert [r["command_id"] for r in cloud.results] == ["c1", "c2"]
    assert device.counts["duplicates"] == 1


async def test_fail_and_hang_modes(device: SimulatedDevice, cloud: Cloud) -> None:
    device.mode = Mode.FAIL
    cloud.command("f1", "ping")
    assert (await cloud.result("f1"))["error"] == "simulated failure"
    device.mode = Mode.HANG
    cloud.command("h1", "ping")
    await eventually(lambda: _truthy([1] if device.counts["commands"] == 2 else []))
    device.mode = Mode.NORMAL
    cloud.command("n1", "ping")
    await cloud.result("n1")
    assert "h1" not in [r["command_id"] for r in cloud.results]


async def test_hold_mode_answers_once_released(device: SimulatedDevice, cloud: Cloud) -> None:
    device.mode = Mode.HOLD
    cloud.command("h1", "ping")
    await eventually(lambda: _truthy([1] if device.counts["commands"] == 1 else []))
    await asyncio.sleep(device.timing.answer_delay + 0.2)
    assert (device.counts["answers"], cloud.results) == (0, [])
    device.mode = Mode.NORMAL
    assert (await cloud.result("h1"))["success"] is True


async def test_broadcasts_reach_devices_of_their_type(
    device: SimulatedDevice, cloud: Cloud
) -> None:
    other = {"command_id": "b1", "command": "reboot", "device_type": "sensor"}
    mine = {"command_id": "b2", "command": "reboot", "device_type": "camera"}
    for payload in (other, mine):
        cloud.client.publish(BROADCAST_TOPIC, json.dumps(payload), qos=1)
    await cloud.result("b2")
    assert "b1" not in [r["command_id"] for r in cloud.results]


async def test_dropping_off_sends_the_last_will(device: SimulatedDevice, cloud: Cloud) -> None:
    device.drop()

    async def will() -> dict[str, Any] | None:
        return next((s for s in cloud.statuses if s == {"online": False}), None)

    await eventually(will)
    device.come_back()
    before = len(cloud.statuses)
    await eventually(lambda: _truthy(cloud.statuses[before:]))
    assert cloud.statuses[-1]["online"] is True


async def test_a_joined_device_reads_its_account_from_its_nodes_secret(
    kube_sandbox_url: str, mqtt_broker: Broker
) -> None:
    # Joined before (the state file says so): its account is in the node's Secret, which
    # the join wrote, and that is what it connects with, as edgecore reads its config.
    tag = uuid.uuid4().hex[:6]
    spec = DeviceSpec(device_id=f"cam-{tag}", node_name=f"node-{tag}", device_type="camera")
    account = await device_account(mqtt_broker, spec.device_id)
    api = sandbox_api_client(kube_sandbox_url)
    body = mqtt_secret_body(
        namespace="kubeedge",
        node_name=spec.node_name,
        device_id=spec.device_id,
        host=mqtt_broker.host,
        port=mqtt_broker.port,
        password=account.password,
    )
    await asyncio.to_thread(k8s.CoreV1Api(api).create_namespaced_secret, "kubeedge", body)
    joined = JoinedDevices(None)
    joined.add(spec)
    role = EdgecoreRole(registry=NodeRegistry(api_client=api), state=joined, joiner=None)
    enrolled = await role.enroll(spec)
    assert enrolled is not None
    assert enrolled.credentials == account
