"""Bring the embedded stack up as real processes for a benchmark, in a temporary directory.

The same processes `make run` starts (Temporal dev server with the WAL SQLite file,
broker, Kubernetes sandbox, worker, uvicorn API, and the MQTT bridge when asked), each on
a free loopback port, and a logged-in HTTP client. Everything is stopped and removed on
exit.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from workers.processes import (
    LOOPBACK,
    bridge_command,
    broker_accounts,
    broker_command,
    free_port,
    temporal_dev_server_command,
    wait_for_port,
)
from workers.stack import mqtt_environment

# A loaded 2-core machine took 47 s to import the API alone: room for the processes to start.
STARTUP_SECONDS = 600.0


@dataclass(frozen=True)
class BenchStack:
    api: httpx.AsyncClient
    temporal_address: str
    data_dir: Path
    pids: dict[str, int]
    sandbox_url: str


def peak_rss_mb(pid: int) -> float | None:
    """The process's peak resident memory (VmHWM), in MB; None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def peak_rss_split(pids: dict[str, int]) -> dict[str, float]:
    """Peak resident memory of every process still running, in MB."""
    peaks = {name: peak_rss_mb(pid) for name, pid in pids.items()}
    return {name: peak for name, peak in peaks.items() if peak is not None}


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time the process has used so far; None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # Fields 14 and 15 of proc(5) (utime, stime), counted after the ")" that ends comm.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_split(pids: dict[str, int], before: dict[str, float | None]) -> dict[str, float]:
    """CPU seconds each process used since `before` (a snapshot of cpu_seconds)."""
    split = {}
    for name, pid in pids.items():
        now, then = cpu_seconds(pid), before.get(name)
        if now is not None and then is not None:
            split[name] = round(now - then, 1)
    return split


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


@asynccontextmanager
async def bench_stack(
    *, extra_env: dict[str, str] | None = None, bridge: bool = False
) -> AsyncIterator[BenchStack]:
    with ExitStack() as stack:
        data = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="edgewright-bench-")))
        names = ("temporal", "ui", "mqtt", "kube", "api", "bridge_metrics")
        ports = {name: free_port() for name in names}
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
            "EDGEWRIGHT_CLOUDCORE_ADDRESS": "192.0.2.10",
            "EDGEWRIGHT_API_PORT": str(ports["api"]),
            "EDGEWRIGHT_BRIDGE_METRICS_PORT": str(ports["bridge_metrics"]),
            "EDGEWRIGHT_JOIN_ANSWER_TIMEOUT_SECONDS": "120",
            # Benchmarks measure throughput, not the per-user rate limit.
            "EDGEWRIGHT_RATE_LIMIT_PER_MINUTE": "100000",
            **mqtt_environment(broker_accounts(data), control=True),
            **(extra_env or {}),
        }
        temporal = temporal_dev_server_command(
            port=ports["temporal"], ui_port=ports["ui"], db_file=data / "temporal.db", headless=True
        )
        pids = {"temporal": _spawn(stack, temporal, env=env, log=data / "temporal.log")}
        broker = broker_command(port=ports["mqtt"], data_dir=data)
        pids["mqtt"] = _spawn(stack, broker, env=env, log=data / "mqtt.log")
        sandbox = [sys.executable, "-m", "simulator.kube_sandbox", "--host", LOOPBACK]
        sandbox += ["--port", str(ports["kube"]), "--state", str(data / "sandbox-kube.json")]
        pids["sandbox"] = _spawn(stack, sandbox, env=env, log=data / "sandbox.log")
        bootstrap = [sys.executable, "-m", "store.bootstrap"]
        await asyncio.to_thread(subprocess.run, bootstrap, env=env, check=True)
        for name in ("temporal", "mqtt", "kube"):
            wait_for_port(LOOPBACK, ports[name], timeout=STARTUP_SECONDS)
        pids["worker"] = _spawn(
            stack, [sys.executable, "-m", "workers"], env=env, log=data / "worker.log"
        )
        api = [sys.executable, "-m", "uvicorn", "api.main:app", "--host", LOOPBACK]
        api += ["--port", str(ports["api"]), "--log-level", "warning", "--no-access-log"]
        pids["api"] = _spawn(stack, api, env=env, log=data / "api.log")
        if bridge:
            command = bridge_command(python=sys.executable, broker=Path(broker[0]).name)
            pids["bridge"] = _spawn(stack, command, env=env, log=data / "bridge.log")
        wait_for_port(LOOPBACK, ports["api"], timeout=STARTUP_SECONDS)
        base = f"http://{LOOPBACK}:{ports['api']}"
        limits = httpx.Limits(max_connections=500, max_keepalive_connections=500)
        async with httpx.AsyncClient(base_url=base, timeout=300, limits=limits) as client:
            login = await client.post(
                "/api/auth/login", json={"username": "admin", "password": password}
            )
            login.raise_for_status()
            client.headers["Authorization"] = f"Bearer {login.json()['token']}"
            yield BenchStack(
                api=client,
                temporal_address=env["EDGEWRIGHT_TEMPORAL_ADDRESS"],
                data_dir=data,
                pids=pids,
                sandbox_url=env["EDGEWRIGHT_SANDBOX_URL"],
            )
