"""Bridge replicas that come and go lose no result and no last will.

Real `python -m workers.bridge` processes (workers/bridge/service.py) against a real
broker, store and Temporal dev server; results go to real workflows. One replica is
removed for good (killed: it never comes back), then every replica stops and a new one,
under a new name, starts.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import workflow
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from adapters.mqtt.client import MiscTicker
from simulator.device import DeviceSpec, SimulatedDevice, Timing
from store import commands, leases
from store.devices import inventory as devices
from store.devices import presence
from store.settings import Settings
from tests.e2e.stack import settings_env
from tests.support.helpers import eventually
from tests.support.mqtt_fixtures import Broker, broker_settings, device_account
from workflows.contracts.commands import (
    COMMAND_RESULT_SIGNAL,
    CommandState,
    CommandStatus,
    DeviceResult,
    command_workflow_id,
)

Sessions = async_sessionmaker[AsyncSession]
RESULTS_PER_PHASE = 10


@workflow.defn(name="ResultCatcher", sandboxed=False)
class ResultCatcher:
    """Stands in for a CommandWorkflow: ends with the first result signalled to it."""

    def __init__(self) -> None:
        self._result: DeviceResult | None = None

    @workflow.run
    async def run(self) -> DeviceResult:
        await workflow.wait_condition(lambda: self._result is not None)
        assert self._result is not None
        return self._result

    @workflow.signal(name=COMMAND_RESULT_SIGNAL)
    def device_result(self, result: DeviceResult) -> None:
        self._result = self._result or result


@dataclass
class Replicas:
    """Bridge processes sharing one group, each under its own name."""

    settings: Settings
    logs: Path
    running: dict[str, subprocess.Popen[bytes]]

    def start(self, name: str) -> None:
        env = settings_env(self.settings.model_copy(update={"bridge_client_id": name}))
        log = (self.logs / f"{name}.log").open("wb")
        self.running[name] = subprocess.Popen(
            [sys.executable, "-m", "workers.bridge"], env=env, stdout=log, stderr=log
        )

    async def started(self, name: str) -> None:
        log = self.logs / f"{name}.log"

        async def up() -> bool:
            assert self.running[name].poll() is None, log.read_text()[-3000:]
            return "bridge running" in log.read_text()

        await eventually(up, within=60)

    async def subscribed(self, name: str) -> None:
        """Until `name` holds the durable session and the broker acknowledged its
        subscriptions: a result published before then has no queue to wait in."""
        log = self.logs / f"{name}.log"

        async def up() -> bool:
            return re.search(r"durable session \S+ subscribed", log.read_text()) is not None

        await eventually(up, within=60)

    async def remove(self, name: str, *, how: signal.Signals) -> None:
        process = self.running.pop(name)
        process.send_signal(how)
        await asyncio.to_thread(process.wait, 30)


@pytest.fixture
def replicas(
    dev_env: WorkflowEnvironment, database_url: str, mqtt_broker: Broker, tmp_path: Path
) -> Iterator[Replicas]:
    temporal = dev_env.client
    settings = Settings.model_validate(
        {
            **broker_settings(mqtt_broker),
            "database_url": database_url,
            "temporal_address": temporal.service_client.config.target_host,
            "temporal_namespace": temporal.namespace,
            "bridge_share_group": f"g{uuid.uuid4().hex[:8]}",
            "bridge_queue_lease_seconds": 2.0,
            "bridge_flush_interval_seconds": 0.2,
            "device_offline_after_seconds": 3600,  # offline by last will only
        }
    )
    running = Replicas(settings=settings, logs=tmp_path, running={})
    try:
        yield running
    finally:
        for process in running.running.values():
            process.kill()
            process.wait(30)


@pytest.fixture
async def catcher(dev_env: WorkflowEnvironment) -> AsyncIterator[str]:
    queue = f"results-{uuid.uuid4().hex[:8]}"
    async with Worker(dev_env.client, task_queue=queue, workflows=[ResultCatcher]):
        yield queue


@dataclass
class Field:
    """A device answering commands, another that will vanish, and the runs waiting."""

    env: WorkflowEnvironment
    sessions: Sessions
    queue: str
    answering: SimulatedDevice
    vanishing: list[SimulatedDevice]

    async def commands(self, count: int) -> list[WorkflowHandle[ResultCatcher, DeviceResult]]:
        """`count` commands sent to the answering device, each with its run waiting."""
        device_id = self.answering.spec.device_id
        handles = []
        now = datetime.now(UTC)
        for _ in range(count):
            command_id = f"cmd_{uuid.uuid4().hex[:10]}"
            status = CommandStatus(
                command_id=command_id,
                device_id=device_id,
                command="capture_image",
                state=CommandState.SENT,
                timeout_seconds=600,
                queued_at=now,
                sent_at=now,
            )
            async with self.sessions() as session, session.begin():
                await commands.save_command(session, status=status, workflow_id="w")
            handles.append(
                await self.env.client.start_workflow(
                    ResultCatcher.run, id=command_workflow_id(command_id), task_queue=self.queue
                )
            )
        return handles

    def answer(self, handles: list[WorkflowHandle[ResultCatcher, DeviceResult]]) -> None:
        topic = f"cloudcore/device/{self.answering.spec.device_id}/result"
        for handle in handles:
            command_id = handle.id.removeprefix("command/")
            body = {"command_id": command_id, "success": True, "result": {"for": command_id}}
            self.answering.mqtt.publish(topic, json.dumps(body), qos=1)

    async def all_answered(
        self, handles: list[WorkflowHandle[ResultCatcher, DeviceResult]]
    ) -> None:
        async with asyncio.timeout(90):
            results = await asyncio.gather(*(handle.result() for handle in handles))
        for handle, result in zip(handles, results, strict=True):
            assert result.result == {"for": handle.id.removeprefix("command/")}

    async def presence(self, device: SimulatedDevice, *, online: bool) -> None:
        async def reached() -> bool:
            if online:
                device.heartbeat()  # QoS 0: one sent before a replica listened is gone
            async with self.sessions() as session:
                found = await presence.presence_of(session, device_id=device.spec.device_id)
            return found is not None and found.online is online

        await eventually(reached, within=90)


async def known_device(sessions: Sessions, broker: Broker) -> SimulatedDevice:
    device_id = f"dev-{uuid.uuid4().hex[:8]}"
    async with sessions() as session, session.begin():
        await devices.upsert_device(
            session, device_id=device_id, node_name=f"{device_id}-node", status="joined"
        )
    return SimulatedDevice(
        spec=DeviceSpec(device_id=device_id, node_name=f"{device_id}-node"),
        host=broker.host,
        port=broker.port,
        ticker=MiscTicker(),
        timing=Timing(heartbeat_interval=3600),
        credentials=await device_account(broker, device_id),
    )


@pytest.fixture
async def field(
    dev_env: WorkflowEnvironment, sessions: Sessions, catcher: str, mqtt_broker: Broker
) -> AsyncIterator[Field]:
    answering = await known_device(sessions, mqtt_broker)
    vanishing = [await known_device(sessions, mqtt_broker) for _ in range(2)]
    for device in (answering, *vanishing):
        await device.start()
        async with asyncio.timeout(10):
            await device.mqtt.connected.wait()
    yield Field(dev_env, sessions, catcher, answering, vanishing)
    for device in (answering, *vanishing):
        await device.stop()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_no_result_or_last_will_is_lost_whatever_replicas_come_and_go(
    replicas: Replicas, field: Field
) -> None:
    replicas.start("bridge-a")
    await replicas.started("bridge-a")
    await replicas.subscribed("bridge-a")
    # The group's queue exists from the first replica on: a first result gets through.
    first = await field.commands(1)
    field.answer(first)
    await field.all_answered(first)
    for device in field.vanishing:  # online: a heartbeat went through the live path
        await field.presence(device, online=True)
    replicas.start("bridge-b")
    await replicas.started("bridge-b")

    # One replica is removed for good (killed, never to return); results and a last will
    # are published while the other is alive.
    await replicas.remove("bridge-a", how=signal.SIGKILL)
    handles = await field.commands(RESULTS_PER_PHASE)
    field.answer(handles)
    field.vanishing[0].drop()
    await field.all_answered(handles)
    await field.presence(field.vanishing[0], online=False)

    # Every replica stops; results and a last will are published while none runs; one
    # replica starts, under a name never seen before.
    await replicas.remove("bridge-b", how=signal.SIGTERM)
    handles = await field.commands(RESULTS_PER_PHASE)
    field.answer(handles)
    field.vanishing[1].drop()
    replicas.start("bridge-c")
    await replicas.started("bridge-c")
    await field.all_answered(handles)
    await field.presence(field.vanishing[1], online=False)


async def test_a_lease_has_one_holder_at_a_time(sessions: Sessions) -> None:
    now, ttl = datetime.now(UTC), timedelta(seconds=10)

    async def take(holder: str, at: datetime) -> bool:
        async with sessions() as session, session.begin():
            return await leases.take(session, name="queue", holder=holder, now=at, ttl=ttl)

    async def release(holder: str) -> bool:
        async with sessions() as session, session.begin():
            return await leases.release(session, name="queue", holder=holder)

    assert await take("a", now)
    assert not await take("b", now)  # a's is running
    assert await take("a", now + timedelta(seconds=5))  # renewed until now + 15
    assert not await take("b", now + timedelta(seconds=12))
    assert await take("b", now + timedelta(seconds=16))  # a let it run out
    assert not await take("a", now + timedelta(seconds=16))
    assert not await release("a")  # not a's to give back
    assert await release("b")
    assert await take("a", now + timedelta(seconds=16))  # handed back: no wait
