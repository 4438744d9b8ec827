"""A real MQTT broker per test session: Mosquitto when installed, else amqtt."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.support.helpers import free_port
from workers.processes import LOOPBACK, broker_command, wait_for_port


@dataclass(frozen=True)
class Broker:
    host: str
    port: int


@pytest.fixture(scope="session")
def mqtt_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    port = free_port()
    command = broker_command(port=port, data_dir=tmp_path_factory.mktemp("broker"))
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(LOOPBACK, port, timeout=30)
        yield Broker(host=LOOPBACK, port=port)
    finally:
        process.terminate()
        process.wait(timeout=10)
