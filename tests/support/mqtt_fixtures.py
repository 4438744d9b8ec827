"""A real MQTT broker per test session: Mosquitto when installed, else amqtt.

Mosquitto runs as the embedded stack runs it: every client authenticates (the dynamic
security plugin), with the service account in `Broker.credentials` or a device's own.
"""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from adapters.mqtt.client import AsyncMqttClient, MiscTicker
from adapters.mqtt.credentials import MqttCredentials
from adapters.mqtt.dynsec import DynsecClient
from tests.support.helpers import free_port
from workers.processes import (
    LOOPBACK,
    BrokerAccounts,
    broker_accounts,
    broker_command,
    mosquitto_binary,
    wait_for_port,
)


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    accounts: BrokerAccounts
    # False with amqtt, which checks no password and no topic (docs/api-notes.md).
    enforces_auth: bool = True

    @property
    def credentials(self) -> MqttCredentials:
        """The services' account: what the worker, bridge, API and simulator use."""
        return self.accounts.service

    @property
    def control(self) -> MqttCredentials:
        return self.accounts.control


def broker_settings(broker: Broker) -> dict[str, object]:
    """The settings that point a process at `broker` with the services' accounts."""
    return {
        "mqtt_host": broker.host,
        "mqtt_port": broker.port,
        "mqtt_username": broker.credentials.username,
        "mqtt_password": broker.credentials.password,
        "mqtt_control_username": broker.control.username if broker.enforces_auth else None,
        "mqtt_control_password": broker.control.password if broker.enforces_auth else None,
    }


async def device_account(broker: Broker, device_id: str) -> MqttCredentials:
    """A device's own account on the broker, as a join gives it (amqtt: the services')."""
    if not broker.enforces_auth:
        return broker.credentials
    control = DynsecClient(
        host=broker.host,
        port=broker.port,
        credentials=broker.control,
        client_id=f"test-control-{uuid.uuid4().hex[:8]}",
    )
    await control.start()
    try:
        password = secrets.token_urlsafe(24)
        await control.create_device(device_id, password)
    finally:
        await control.stop()
    return MqttCredentials(username=device_id, password=password)


async def can_connect(broker: Broker, credentials: MqttCredentials, *, client_id: str) -> bool:
    """One attempt: True when the broker let the client in, False when it turned it away."""
    attempt = AsyncMqttClient(
        host=broker.host,
        port=broker.port,
        client_id=client_id,
        ticker=MiscTicker(),
        credentials=credentials,
        reconnect_min_delay=60,  # one attempt is the point
    )
    refused = asyncio.Event()
    attempt.on_refused = lambda _: refused.set()
    await attempt.start()
    waits = [asyncio.create_task(attempt.connected.wait()), asyncio.create_task(refused.wait())]
    try:
        async with asyncio.timeout(10):
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        return attempt.is_connected
    finally:
        for task in waits:
            task.cancel()
        await attempt.close()


def start_broker(data_dir: Path) -> tuple[Broker, subprocess.Popen[bytes]]:
    port = free_port()
    accounts = broker_accounts(data_dir)
    command = broker_command(port=port, data_dir=data_dir, accounts=accounts)
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    broker = Broker(
        host=LOOPBACK, port=port, accounts=accounts, enforces_auth=mosquitto_binary() is not None
    )
    return broker, process


@pytest.fixture(scope="session")
def mqtt_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    broker, process = start_broker(tmp_path_factory.mktemp("broker"))
    try:
        wait_for_port(LOOPBACK, broker.port, timeout=30)
        yield broker
    finally:
        process.terminate()
        process.wait(timeout=10)
