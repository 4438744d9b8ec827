"""The stack with several replicas of each process, for the scale-out benchmark.

One of each server (Temporal dev server on its WAL SQLite file, Mosquitto, PostgreSQL,
Redis, the Kubernetes sandbox) and `api_replicas` uvicorn APIs, `workers` workers and
`bridges` bridges, each a real process under its own name (`api-0`, `worker-1`, ...)
that the benchmark can SIGKILL and start again. Every replica gets the same settings
but its own port, MQTT client ID and no metrics listener (they would share a port).
Everything lives in a temporary directory and is stopped and removed on exit.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from adapters.mqtt.credentials import MqttCredentials
from bench._replicas import Processes
from bench._servers import postgres, redis
from bench._stack import STARTUP_SECONDS
from workers.processes import (
    LOOPBACK,
    broker_accounts,
    broker_command,
    free_port,
    temporal_dev_server_command,
    wait_for_port,
)
from workers.stack import mqtt_environment


@dataclass(frozen=True, kw_only=True)
class Shape:
    api_replicas: int
    workers: int
    bridges: int


@dataclass(frozen=True, kw_only=True)
class ScaleStack:
    shape: Shape
    processes: Processes
    env: dict[str, str]  # the settings every process shares
    api_urls: dict[str, str]  # replica name -> base URL
    admin_password: str
    database_url: str
    temporal_address: str
    sandbox_url: str
    mqtt_port: int
    service_account: MqttCredentials
    data_dir: Path

    @property
    def temporal_db(self) -> Path:
        return self.data_dir / "temporal.db"

    async def start(self, name: str) -> None:
        """Start a replica (again) and wait until it serves (an API) or is running."""
        self.processes.start(name)
        if name in self.api_urls:
            port = int(self.api_urls[name].rsplit(":", 1)[1])
            await asyncio.to_thread(wait_for_port, LOOPBACK, port, timeout=STARTUP_SECONDS)


def _base_env(
    data: Path, ports: dict[str, int], *, database_url: str, redis_url: str
) -> dict[str, str]:
    accounts = broker_accounts(data)
    return {
        **os.environ,
        "EDGEWRIGHT_DATA_DIR": str(data),
        "EDGEWRIGHT_DATABASE_URL": database_url,
        "EDGEWRIGHT_RATE_LIMIT_STORAGE": redis_url,
        "EDGEWRIGHT_SECRET_KEY": secrets.token_urlsafe(48),
        "EDGEWRIGHT_TEMPORAL_ADDRESS": f"{LOOPBACK}:{ports['temporal']}",
        "EDGEWRIGHT_MQTT_PORT": str(ports["mqtt"]),
        "EDGEWRIGHT_KUBE_MODE": "sandbox",
        "EDGEWRIGHT_SANDBOX_URL": f"http://{LOOPBACK}:{ports['kube']}",
        "EDGEWRIGHT_CLOUDCORE_ADDRESS": "192.0.2.10",
        "EDGEWRIGHT_JOIN_ANSWER_TIMEOUT_SECONDS": "120",
        # Throughput is measured, not the per-user limit; logins keep a small one, which
        # the benchmark checks is counted once across replicas.
        "EDGEWRIGHT_RATE_LIMIT_PER_MINUTE": "100000",
        "EDGEWRIGHT_LOGIN_RATE_LIMIT_PER_MINUTE": "10",
        "EDGEWRIGHT_WORKER_METRICS_PORT": "0",
        "EDGEWRIGHT_BRIDGE_METRICS_PORT": "0",
        "PYTHONUNBUFFERED": "1",
        **mqtt_environment(accounts, control=True),
    }


@asynccontextmanager
async def scale_stack(shape: Shape) -> AsyncIterator[ScaleStack]:
    with ExitStack() as stack:
        data = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="edgewright-scale-")))
        ports = {name: free_port() for name in ("temporal", "ui", "mqtt", "kube")}
        database_url = stack.enter_context(postgres())
        redis_url = stack.enter_context(redis())
        env = _base_env(data, ports, database_url=database_url, redis_url=redis_url)
        password = secrets.token_urlsafe(16)
        env["EDGEWRIGHT_ADMIN_PASSWORD"] = password
        processes = Processes(logs=data)
        stack.callback(processes.stop_all)
        temporal = temporal_dev_server_command(
            port=ports["temporal"], ui_port=ports["ui"], db_file=data / "temporal.db", headless=True
        )
        processes.start("temporal", temporal, env=env)
        processes.start("mqtt", broker_command(port=ports["mqtt"], data_dir=data), env=env)
        sandbox = [sys.executable, "-m", "simulator.kube_sandbox", "--host", LOOPBACK]
        sandbox += ["--port", str(ports["kube"]), "--state", str(data / "sandbox-kube.json")]
        processes.start("sandbox", sandbox, env=env)
        bootstrap = [sys.executable, "-m", "store.bootstrap"]
        await asyncio.to_thread(subprocess.run, bootstrap, env=env, check=True)
        for name in ("temporal", "mqtt", "kube"):
            await asyncio.to_thread(wait_for_port, LOOPBACK, ports[name], timeout=STARTUP_SECONDS)

        for n in range(shape.workers):
            processes.start(f"worker-{n}", [sys.executable, "-m", "workers"], env=env)
        for n in range(shape.bridges):
            name = f"bridge-{n}"
            bridge_env = env | {"EDGEWRIGHT_BRIDGE_CLIENT_ID": name}
            processes.start(name, [sys.executable, "-m", "workers.bridge"], env=bridge_env)
        urls = {}
        for n in range(shape.api_replicas):
            name, port = f"api-{n}", free_port()
            urls[name] = f"http://{LOOPBACK}:{port}"
            api = [sys.executable, "-m", "uvicorn", "api.main:app", "--host", LOOPBACK]
            api += ["--port", str(port), "--log-level", "warning", "--no-access-log"]
            processes.start(name, api, env=env | {"EDGEWRIGHT_API_PORT": str(port)})
        for name, url in urls.items():
            port = int(url.rsplit(":", 1)[1])
            try:
                await asyncio.to_thread(wait_for_port, LOOPBACK, port, timeout=STARTUP_SECONDS)
            except TimeoutError:
                print(processes.log_tail(name), file=sys.stderr)
                raise
        yield ScaleStack(
            shape=shape,
            processes=processes,
            env=env,
            api_urls=urls,
            admin_password=password,
            database_url=database_url,
            temporal_address=env["EDGEWRIGHT_TEMPORAL_ADDRESS"],
            sandbox_url=env["EDGEWRIGHT_SANDBOX_URL"],
            mqtt_port=ports["mqtt"],
            service_account=broker_accounts(data).service,
            data_dir=data,
        )
