"""The embedded stack with the bridge and a simulated fleet, as real processes, for a bench.

Temporal (dev server, WAL SQLite file as in `make run`), the broker, the Kubernetes
sandbox, worker, API, bridge, and `python -m simulator` with `devices` devices that are
put into the inventory directly (joining them is another benchmark's business). Each on
a free loopback port in a temporary directory, stopped and removed on exit.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import func, select

from adapters.mqtt.credentials import MqttCredentials
from bench._stack import STARTUP_SECONDS
from store.db import create_engine, session_factory
from store.devices import inventory
from store.models import Device
from workers.processes import (
    LOOPBACK,
    broker_accounts,
    broker_command,
    free_port,
    temporal_dev_server_command,
    wait_for_port,
)
from workers.stack import mqtt_environment

PREFIX = "bench-dev-"


@dataclass(frozen=True, kw_only=True)
class CommandBench:
    api: httpx.AsyncClient
    mqtt_port: int
    device_ids: list[str]
    credentials: MqttCredentials  # the services' MQTT account
    temporal_address: str
    pids: dict[str, int]  # by process: CPU per command, memory figures and profiles


def _spawn(stack: ExitStack, command: list[str], *, env: dict[str, str], log: Path) -> int:
    out = stack.enter_context(log.open("wb"))
    process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)

    def stop() -> None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    stack.callback(stop)
    return process.pid


def _copy_logs(data: Path, into: Path) -> None:
    into.mkdir(parents=True, exist_ok=True)
    for log in data.glob("*.log"):
        shutil.copy2(log, into / log.name)


async def _add_devices(url: str, count: int) -> list[str]:
    engine = create_engine(url)
    ids = [f"{PREFIX}{n:04d}" for n in range(1, count + 1)]
    try:
        async with session_factory(engine)() as session, session.begin():
            for device_id in ids:
                await inventory.upsert_device(
                    session,
                    device_id=device_id,
                    node_name=f"{device_id}-node",
                    status="joined",
                    device_type="camera",
                )
    finally:
        await engine.dispose()
    return ids


async def _all_online(url: str, count: int) -> None:
    engine = create_engine(url)
    try:
        for _ in range(600):
            async with session_factory(engine)() as session:
                online = await session.scalar(
                    select(func.count()).select_from(Device).where(Device.presence_online)
                )
            if online == count:
                return
            await asyncio.sleep(0.1)
        raise TimeoutError(f"only {online} of {count} simulated devices came online")
    finally:
        await engine.dispose()


@asynccontextmanager
async def command_stack(
    *, devices: int, answer_delay: float, logs: Path | None = None
) -> AsyncIterator[CommandBench]:
    """`logs`: a directory the processes' logs are copied into once they have stopped."""
    with ExitStack() as stack:
        data = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="edgewright-cmd-")))
        if logs is not None:
            # Registered first, so it runs last: after every process stopped, before the
            # temporary directory goes.
            stack.callback(_copy_logs, data, logs)
        ports = {name: free_port() for name in ("temporal", "ui", "mqtt", "kube", "api")}
        accounts = broker_accounts(data)
        password = secrets.token_urlsafe(16)
        env = {
            **os.environ,
            "EDGEWRIGHT_DATA_DIR": str(data),
            "EDGEWRIGHT_SECRET_KEY": secrets.token_urlsafe(48),
            "EDGEWRIGHT_ADMIN_PASSWORD": password,
            "EDGEWRIGHT_TEMPORAL_ADDRESS": f"{LOOPBACK}:{ports['temporal']}",
            "EDGEWRIGHT_MQTT_PORT": str(ports["mqtt"]),
            "EDGEWRIGHT_KUBE_MODE": "sandbox",
            "EDGEWRIGHT_SANDBOX_URL": f"http://{LOOPBACK}:{ports['kube']}",
            "EDGEWRIGHT_API_PORT": str(ports["api"]),
            # Benchmarks measure latency and throughput, not the per-user rate limit.
            "EDGEWRIGHT_RATE_LIMIT_PER_MINUTE": "100000",
            **mqtt_environment(accounts, control=True),
        }
        temporal = temporal_dev_server_command(
            port=ports["temporal"], ui_port=ports["ui"], db_file=data / "temporal.db", headless=True
        )
        temporal_pid = _spawn(stack, temporal, env=env, log=data / "temporal.log")
        broker = broker_command(port=ports["mqtt"], data_dir=data, accounts=accounts)
        broker_pid = _spawn(stack, broker, env=env, log=data / "mqtt.log")
        sandbox = [sys.executable, "-m", "simulator.kube_sandbox", "--host", LOOPBACK]
        sandbox += ["--port", str(ports["kube"]), "--state", str(data / "sandbox-kube.json")]
        _spawn(stack, sandbox, env=env, log=data / "sandbox.log")
        bootstrap = [sys.executable, "-m", "store.bootstrap"]
        await asyncio.to_thread(subprocess.run, bootstrap, env=env, check=True)
        url = f"sqlite+aiosqlite:///{(data / 'edgewright.db').as_posix()}"
        ids = await _add_devices(url, devices)
        for name in ("temporal", "mqtt", "kube"):
            wait_for_port(LOOPBACK, ports[name], timeout=STARTUP_SECONDS)
        pids = {
            "temporal": temporal_pid,
            "mqtt": broker_pid,
            "worker": _spawn(
                stack, [sys.executable, "-m", "workers"], env=env, log=data / "worker.log"
            ),
            "bridge": _spawn(
                stack, [sys.executable, "-m", "workers.bridge"], env=env, log=data / "bridge.log"
            ),
        }
        api = [sys.executable, "-m", "uvicorn", "api.main:app", "--host", LOOPBACK]
        api += ["--port", str(ports["api"]), "--log-level", "warning", "--no-access-log"]
        pids["api"] = _spawn(stack, api, env=env, log=data / "api.log")
        fleet = [sys.executable, "-m", "simulator", "--devices", str(devices), "--prefix", PREFIX]
        fleet += ["--heartbeat", "15", "--detections", "0", "--answer-delay", str(answer_delay)]
        _spawn(stack, fleet, env=env, log=data / "simulator.log")
        try:
            wait_for_port(LOOPBACK, ports["api"], timeout=STARTUP_SECONDS)
        except TimeoutError:
            print((data / "api.log").read_text()[-3000:], file=sys.stderr)
            raise
        await _all_online(url, devices)
        base = f"http://{LOOPBACK}:{ports['api']}"
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        async with httpx.AsyncClient(base_url=base, timeout=300, limits=limits) as client:
            login = await client.post(
                "/api/auth/login", json={"username": "admin", "password": password}
            )
            if login.status_code != 200:
                print((data / "api.log").read_text()[-3000:], file=sys.stderr)
                login.raise_for_status()
            client.headers["Authorization"] = f"Bearer {login.json()['token']}"
            yield CommandBench(
                api=client,
                mqtt_port=ports["mqtt"],
                device_ids=ids,
                credentials=accounts.service,
                temporal_address=env["EDGEWRIGHT_TEMPORAL_ADDRESS"],
                pids=pids,
            )
