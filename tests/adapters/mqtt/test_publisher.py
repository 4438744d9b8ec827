"""The one MQTT client under every process: its TCP side, and the worker's facade over it."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator

import pytest

from adapters.mqtt.client import AsyncMqttClient, MiscTicker
from adapters.mqtt.publisher import MqttPublisher
from adapters.mqtt.tcp import open_tcp
from tests.support.mqtt_fixtures import Broker
from workflows.contracts.live import events_topic


@pytest.fixture
async def heard(mqtt_broker: Broker) -> AsyncIterator[asyncio.Queue[dict[str, str]]]:
    received: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    # By name, not address: the lookup runs off the loop, and every address is tried.
    listener = AsyncMqttClient(
        host="localhost",
        port=mqtt_broker.port,
        client_id=f"listener-{uuid.uuid4().hex[:8]}",
        ticker=MiscTicker(),
        credentials=mqtt_broker.credentials,
    )
    listener.on_connect = lambda: listener.subscribe([(events_topic("#"), 1)])
    listener.on_message = lambda msg: received.put_nowait(json.loads(msg.payload))
    subscribed = asyncio.Event()
    listener.on_subscribed = subscribed.set
    await listener.start()
    async with asyncio.timeout(10):
        await subscribed.wait()  # the SUBACK: a publish before it would be lost
    yield received
    await listener.close()


@pytest.fixture
async def publisher(mqtt_broker: Broker) -> AsyncIterator[MqttPublisher]:
    started = MqttPublisher(
        host=mqtt_broker.host,
        port=mqtt_broker.port,
        client_id=f"pub-{uuid.uuid4().hex[:8]}",
        credentials=mqtt_broker.credentials,
    )
    await started.start()
    yield started
    await started.stop()


async def test_sockets_have_nagle_off(mqtt_broker: Broker) -> None:
    sock = await open_tcp(mqtt_broker.host, mqtt_broker.port)
    try:
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        sock.close()


async def test_publishes_from_the_loop_and_from_threads(
    publisher: MqttPublisher, heard: asyncio.Queue[dict[str, str]]
) -> None:
    topic = events_topic("a")
    await publisher.publish(topic, {"from": "loop, acked"})  # waits for the connection
    await asyncio.to_thread(publisher.publish_blocking, topic, {"from": "thread, acked"})
    assert publisher.publish_nowait(topic, {"from": "loop"})
    assert await asyncio.to_thread(publisher.publish_nowait, topic, {"from": "thread"})
    seen: set[str] = set()
    async with asyncio.timeout(10):
        while len(seen) < 4:
            seen.add((await heard.get())["from"])
    assert seen == {"loop, acked", "thread, acked", "loop", "thread"}


async def test_publish_blocking_refuses_the_loop_thread(publisher: MqttPublisher) -> None:
    with pytest.raises(RuntimeError):
        publisher.publish_blocking(events_topic("x"), {"a": 1})


async def test_events_are_dropped_while_offline(mqtt_broker: Broker) -> None:
    idle = MqttPublisher(host=mqtt_broker.host, port=mqtt_broker.port, client_id="never-started")
    assert not idle.publish_nowait(events_topic("x"), {"a": 1})
