"""Every MQTT client authenticates, and a device may use its own topics only (Mosquitto)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from adapters.mqtt.client import AsyncMqttClient, MiscTicker
from adapters.mqtt.credentials import MqttCredentials
from adapters.mqtt.dynsec import DynsecClient
from tests.support.helpers import eventually
from tests.support.mqtt_fixtures import Broker, device_account


@pytest.fixture(autouse=True)
def needs_mosquitto(mqtt_broker: Broker) -> None:
    if not mqtt_broker.enforces_auth:
        pytest.skip("amqtt checks no accounts (docs/api-notes.md)")


@dataclass
class Client:
    mqtt: AsyncMqttClient
    heard: list[tuple[str, bytes]] = field(default_factory=list)
    refused: asyncio.Event = field(default_factory=asyncio.Event)


async def connect(
    broker: Broker,
    credentials: MqttCredentials | None,
    *,
    client_id: str | None = None,
    topics: list[str] | None = None,
) -> Client:
    """A client that has connected (and subscribed), or was turned away."""
    client = Client(
        AsyncMqttClient(
            host=broker.host,
            port=broker.port,
            client_id=client_id or f"t-{uuid.uuid4().hex[:8]}",
            ticker=MiscTicker(),
            credentials=credentials,
            reconnect_min_delay=60,  # one attempt is all a test needs
        )
    )
    subscribed = asyncio.Event()
    client.mqtt.on_connect = lambda: client.mqtt.subscribe([(t, 1) for t in topics or []])
    client.mqtt.on_subscribed = subscribed.set
    client.mqtt.on_message = lambda m: client.heard.append((m.topic, m.payload))
    client.mqtt.on_refused = lambda _: client.refused.set()
    await client.mqtt.start()
    waits = [client.mqtt.connected.wait(), client.refused.wait()]
    tasks = [asyncio.create_task(wait) for wait in waits]
    async with asyncio.timeout(10):
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if client.mqtt.is_connected and topics:
            await subscribed.wait()
    for task in tasks:
        task.cancel()
    return client


@pytest.fixture
async def clients() -> AsyncIterator[list[Client]]:
    made: list[Client] = []
    yield made
    for client in made:
        await client.mqtt.close()


async def test_anonymous_and_wrong_passwords_are_turned_away(
    mqtt_broker: Broker, clients: list[Client]
) -> None:
    anonymous = await connect(mqtt_broker, None)
    wrong = await connect(
        mqtt_broker, MqttCredentials(username=mqtt_broker.credentials.username, password="nope")
    )
    service = await connect(mqtt_broker, mqtt_broker.credentials)
    clients += [anonymous, wrong, service]
    assert anonymous.refused.is_set()
    assert wrong.refused.is_set()
    assert not anonymous.mqtt.is_connected
    assert not wrong.mqtt.is_connected
    assert service.mqtt.is_connected


async def test_a_device_uses_its_own_topics_only(
    mqtt_broker: Broker, clients: list[Client]
) -> None:
    tag = uuid.uuid4().hex[:6]
    mine, other = f"cam-{tag}-a", f"cam-{tag}-b"
    account = await device_account(mqtt_broker, mine)
    await device_account(mqtt_broker, other)

    # Its account works for its own client ID only.
    borrowed = await connect(mqtt_broker, account, client_id=other)
    clients.append(borrowed)
    assert borrowed.refused.is_set()

    cloud = await connect(
        mqtt_broker,
        mqtt_broker.credentials,
        topics=["cloudcore/device/+/result", "cloudcore/device/+/status", "edgewright/#"],
    )
    device = await connect(
        mqtt_broker,
        account,
        client_id=mine,
        # Asks for more than its own: only its command and the broadcast may reach it.
        topics=[
            f"cloudcore/device/{mine}/command",
            f"cloudcore/device/{other}/command",
            "cloudcore/broadcast/command",
            "cloudcore/#",
            "edgewright/#",
        ],
    )
    clients += [cloud, device]
    assert device.mqtt.is_connected

    for topic in (
        f"cloudcore/device/{other}/result",  # another device's topics
        f"cloudcore/device/{other}/status",
        f"cloudcore/device/{mine}/command",  # its own, but the cloud's to write
        "edgewright/events/command_result",  # the event bus
    ):
        device.mqtt.publish(topic, b'{"forged": true}', qos=1)
    control = {"commands": [{"command": "deleteClient", "username": other}]}
    device.mqtt.publish("$CONTROL/dynamic-security/v1", json.dumps(control), qos=1)
    # Last: once the cloud has it, whatever the broker let through before it is there too.
    device.mqtt.publish(f"cloudcore/device/{mine}/result", b'{"own": true}', qos=1)
    cloud.mqtt.publish(f"cloudcore/device/{other}/command", other.encode(), qos=1)
    cloud.mqtt.publish("edgewright/events/heartbeat", b"bus", qos=1)
    cloud.mqtt.publish("cloudcore/broadcast/command", b"everyone", qos=1)
    cloud.mqtt.publish(f"cloudcore/device/{mine}/command", mine.encode(), qos=1)  # last too

    async def both_last_in() -> bool:
        own_result = (f"cloudcore/device/{mine}/result", b'{"own": true}')
        own_command = (f"cloudcore/device/{mine}/command", mine.encode())
        return own_result in cloud.heard and own_command in device.heard

    await eventually(both_last_in)
    from_devices = [(topic, body) for topic, body in cloud.heard if body != b"bus"]
    assert from_devices == [(f"cloudcore/device/{mine}/result", b'{"own": true}')]
    assert device.heard == [
        ("cloudcore/broadcast/command", b"everyone"),
        (f"cloudcore/device/{mine}/command", mine.encode()),
    ]
    # Its control message changed nothing: the other device still gets in.
    still = await connect(mqtt_broker, await device_account(mqtt_broker, other), client_id=other)
    clients.append(still)
    assert still.mqtt.is_connected


async def test_a_deleted_account_is_disconnected_and_kept_out(
    mqtt_broker: Broker, clients: list[Client]
) -> None:
    device_id = f"cam-{uuid.uuid4().hex[:6]}"
    account = await device_account(mqtt_broker, device_id)
    device = await connect(mqtt_broker, account, client_id=device_id)
    clients.append(device)
    assert device.mqtt.is_connected

    control = DynsecClient(
        host=mqtt_broker.host,
        port=mqtt_broker.port,
        credentials=mqtt_broker.control,
        client_id=f"t-control-{uuid.uuid4().hex[:6]}",
    )
    await control.start()
    try:
        assert await control.delete_device(device_id)
        assert not await control.delete_device(device_id)  # gone: done, not an error
    finally:
        await control.stop()

    async def dropped() -> bool:
        return not device.mqtt.is_connected

    await eventually(dropped)
    again = await connect(mqtt_broker, account, client_id=device_id)
    clients.append(again)
    assert again.refused.is_set()
