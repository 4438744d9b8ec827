"""A broker of a test's own that the test can restart on the same port and data."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.helpers import free_port, wait_for_port
from tests.support.mqtt_fixtures import Broker
from workers.processes import LOOPBACK, broker_accounts, broker_command, mosquitto_binary


class RestartableBroker:
    def __init__(self, *, data_dir: Path) -> None:
        accounts = broker_accounts(data_dir)
        self.broker = Broker(host=LOOPBACK, port=free_port(), accounts=accounts)
        self._command = broker_command(
            port=self.broker.port, data_dir=data_dir, use_mosquitto=True, accounts=accounts
        )
        self._process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        self._process = await asyncio.to_thread(
            subprocess.Popen, self._command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        await wait_for_port(self.broker.host, self.broker.port)

    async def stop(self) -> None:
        """SIGTERM: Mosquitto saves its sessions and queued messages on the way out."""
        if self._process is not None:
            self._process.terminate()
            await asyncio.to_thread(self._process.wait, 15)
            self._process = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()


@pytest.fixture
def restartable_broker(tmp_path: Path) -> Iterator[RestartableBroker]:
    if mosquitto_binary() is None:
        pytest.skip("needs Mosquitto (make system-deps): amqtt keeps no sessions over a restart")
    broker = RestartableBroker(data_dir=tmp_path / "broker")
    try:
        yield broker
    finally:
        if broker._process is not None:
            broker._process.terminate()
            broker._process.wait(15)
