"""A Temporal dev server of a test's own, on a SQLite file, that the test can SIGKILL and
start again on the same port and file: what `make run` runs, crashing."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from adapters.temporal import retry_connect
from tests.support.helpers import free_port, wait_for_port
from workers.processes import LOOPBACK, temporal_dev_server_command


class RestartableTemporal:
    def __init__(self, *, db_file: Path) -> None:
        self.address = f"{LOOPBACK}:{free_port()}"
        port = int(self.address.rsplit(":", 1)[1])
        self._command = temporal_dev_server_command(
            port=port, ui_port=free_port(), db_file=db_file, headless=True
        )
        self._process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        self._process = await asyncio.to_thread(
            subprocess.Popen, self._command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        host, port = self.address.rsplit(":", 1)
        await wait_for_port(host, int(port), within=90)

    async def kill(self) -> None:
        """SIGKILL: no shutdown, only what SQLite had committed survives."""
        if self._process is not None:
            self._process.send_signal(signal.SIGKILL)
            await asyncio.to_thread(self._process.wait, 30)
            self._process = None

    async def connect(self) -> Client:
        async def once() -> Client:
            return await Client.connect(self.address, data_converter=pydantic_data_converter)

        return await retry_connect(once, target=self.address, give_up_after=90)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None


@pytest.fixture
async def restartable_temporal(tmp_path: Path) -> AsyncIterator[RestartableTemporal]:
    server = RestartableTemporal(db_file=tmp_path / "temporal.db")
    await server.start()
    try:
        yield server
    finally:
        server.stop()
