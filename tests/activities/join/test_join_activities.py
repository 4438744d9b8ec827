"""Token, inventory and MQTT activities against the real store, sandbox and broker."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.devices.inventory import InventoryActivities
from activities.devices.tokens import TokenActivities
from activities.join.kubernetes import KubeActivities
from activities.join.notify import NotifyActivities
from adapters.kubernetes.client import connect_kube
from adapters.kubernetes.kubeedge_token import verify_join_token
from adapters.mqtt.client import AsyncMqttClient, MiscTicker
from adapters.mqtt.publisher import MqttPublisher
from store.devices import inventory as devices
from store.devices import tokens
from store.sealing import unseal
from store.settings import Settings
from tests.support.helpers import free_port
from tests.support.mqtt_fixtures import Broker
from workflows.contracts.common import DeviceRef, ErrorType
from workflows.contracts.join import (
    CompleteJoinInput,
    DeviceRecordInput,
    IssueJoinTokenInput,
    TokenRef,
)
from workflows.contracts.live import events_topic

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
def kube(settings: Settings) -> KubeActivities:
    return KubeActivities(target=connect_kube(settings))


def issue_input(namespace: str = "kubeedge") -> IssueJoinTokenInput:
    return IssueJoinTokenInput(
        device_id="camera-001",
        node_name="edge-node-001",
        token_id=str(uuid.uuid4()),
        expires_at=(datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0),
        kubeedge_namespace=namespace,
    )


async def test_issue_is_idempotent_and_stores_only_a_hash(
    settings: Settings, kube: KubeActivities, sessions: Sessions
) -> None:
    acts = TokenActivities(settings=settings, sessions=sessions, cluster_ca=kube)
    inp = issue_input()
    first = await ActivityEnvironment().run(acts.issue_join_token, inp)
    second = await ActivityEnvironment().run(acts.issue_join_token, inp)
    token = unseal(settings, first.sealed_token)
    assert unseal(settings, second.sealed_token) == token
    cadata, cakeydata = await asyncio.to_thread(kube.read_cluster_ca, "kubeedge")
    claims = verify_join_token(token=token, cadata=cadata, cakeydata=cakeydata)
    assert claims["exp"] == int(inp.expires_at.timestamp())
    async with sessions() as session:
        row = await tokens.get_token(session, token_id=inp.token_id)
        assert row is not None
        assert row.token_hash == tokens.token_hash(token)
        assert token not in (row.token_hash, row.description)

    await ActivityEnvironment().run(acts.revoke_join_token, TokenRef(token_id=inp.token_id))
    await ActivityEnvironment().run(acts.revoke_join_token, TokenRef(token_id=inp.token_id))
    async with sessions() as session:
        row = await tokens.get_token(session, token_id=inp.token_id)
        assert row is not None
        assert row.revoked_at is not None


async def test_issue_without_cluster_ca_is_final(
    settings: Settings, kube: KubeActivities, sessions: Sessions
) -> None:
    acts = TokenActivities(settings=settings, sessions=sessions, cluster_ca=kube)
    with pytest.raises(ApplicationError) as err:
        await ActivityEnvironment().run(acts.issue_join_token, issue_input("no-such-namespace"))
    assert err.value.type == ErrorType.MISSING_CLUSTER_CA
    assert err.value.non_retryable


async def test_inventory_join_lifecycle(sessions: Sessions) -> None:
    acts = InventoryActivities(sessions=sessions)
    env = ActivityEnvironment()
    ref = DeviceRef(device_id="camera-001", node_name="edge-node-001")
    await env.run(acts.validate_join, ref)
    record = DeviceRecordInput(
        device_id="camera-001",
        node_name="edge-node-001",
        status="waiting_for_node",
        workflow_id="device-join/camera-001",
    )
    await env.run(acts.record_device, record)
    await env.run(acts.record_device, record)
    await env.run(acts.validate_join, ref)  # the same device may re-validate its own node

    with pytest.raises(ApplicationError) as taken:
        await env.run(acts.validate_join, DeviceRef(device_id="other", node_name="edge-node-001"))
    assert taken.value.type == ErrorType.CONFLICT
    assert taken.value.non_retryable
    with pytest.raises(ApplicationError) as moved:
        await env.run(acts.validate_join, DeviceRef(device_id="camera-001", node_name="elsewhere"))
    assert moved.value.type == ErrorType.CONFLICT

    async with sessions() as session, session.begin():
        await tokens.record_token(
            session,
            token_id="t1",
            token="x.y.z",
            node_name="edge-node-001",
            device_id="camera-001",
            expires_at=datetime.now(UTC) + timedelta(hours=1),
        )
    done = CompleteJoinInput(device_id="camera-001", node_name="edge-node-001", token_id="t1")
    await env.run(acts.complete_join, done)
    await env.run(acts.complete_join, done)
    async with sessions() as session:
        device = await devices.get_device(session, device_id="camera-001")
        token = await tokens.get_token(session, token_id="t1")
    assert device is not None
    assert device.status == "joined"
    assert device.joined_at is not None
    assert token is not None
    assert token.used_at is not None

    await env.run(acts.delete_device_record, ref)
    await env.run(acts.delete_device_record, ref)
    async with sessions() as session:
        assert await devices.get_device(session, device_id="camera-001") is None


async def test_notify_reaches_subscribers(mqtt_broker: Broker) -> None:
    received: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    listener = AsyncMqttClient(
        host=mqtt_broker.host,
        port=mqtt_broker.port,
        client_id=f"listener-{uuid.uuid4()}",
        ticker=MiscTicker(),
        credentials=mqtt_broker.credentials,
    )
    listener.on_connect = lambda: listener.subscribe([(events_topic("#"), 1)])
    listener.on_message = lambda msg: received.put_nowait(json.loads(msg.payload))
    subscribed = asyncio.Event()
    listener.on_subscribed = subscribed.set
    await listener.start()
    publisher = MqttPublisher(
        host=mqtt_broker.host,
        port=mqtt_broker.port,
        client_id="notify-test",
        credentials=mqtt_broker.credentials,
    )
    await publisher.start()
    try:
        async with asyncio.timeout(10):
            await subscribed.wait()  # the SUBACK: a publish before it would be lost
        acts = NotifyActivities(publisher=publisher)
        ref = DeviceRef(device_id="camera-001", node_name="edge-node-001")
        # A sync activity: on a thread, as the worker runs it, publishing through the loop.
        await asyncio.to_thread(ActivityEnvironment().run, acts.notify_device_provisioned, ref)
        event = await asyncio.wait_for(received.get(), 10)
        assert event["event"] == "device_provisioned"
        assert event["device_id"] == "camera-001"
    finally:
        await publisher.stop()
        await listener.close()


async def test_publish_without_a_broker_fails_fast() -> None:
    publisher = MqttPublisher(
        host="127.0.0.1", port=free_port(), client_id="nobody-home", publish_timeout=0.5
    )
    await publisher.start()
    try:
        with pytest.raises(ConnectionError):
            await publisher.publish(events_topic("x"), {"a": 1})
        with pytest.raises(ConnectionError):
            await asyncio.to_thread(publisher.publish_blocking, events_topic("x"), {"a": 1})
    finally:
        await publisher.stop()
