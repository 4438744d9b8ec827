"""API reads: GET /api/kubeedge/devices?limit=100 with 10,000 devices in the store, beside
a bare FastAPI endpoint answering a page of the same shape from memory.

`python -m bench.api_reads [--devices 10000] [--requests 4000] [--concurrency 16]` seeds a
SQLite store in a temporary directory (devices with node facts, as the node sync writes
them), serves the real app and then the bare one, each as one uvicorn process, and loads
each over HTTP from this process with httpx. Also measured: the last page (`page=100`),
where the store has to skip 9,900 rows, and the whole list (no `page` or `limit`: every
device, streamed) beside a bare endpoint answering the same 10,000 items from memory.
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import httpx
from sqlalchemy import Table, insert

from api.core.auth import issue_token
from bench.join_latency import percentile
from store.access.users import Role, create_user
from store.db import create_engine, session_factory
from store.migrate import upgrade_async
from store.models import Device, new_node_id, utcnow
from store.settings import Settings
from workers.processes import LOOPBACK, free_port, wait_for_port

BATCH = 1000


async def seed(settings: Settings, *, count: int) -> str:
    """Migrate, insert `count` devices and an admin; returns the admin's bearer token."""
    await upgrade_async(settings.sqlalchemy_url)
    engine = create_engine(settings.sqlalchemy_url)
    now = utcnow()
    rows = [
        {
            "device_id": f"dev-{i:05d}",
            "node_name": f"node-dev-{i:05d}",
            "node_id": new_node_id(),
            "status": "joined",
            "device_type": "camera",
            "configuration": {"runtime": "containerd"},
            "created_at": now,
            "updated_at": now,
            "node_ready": True,
            "node_roles": ["agent", "edge"],
            "node_version": "v1.29.5-kubeedge-v1.18.0",
            "node_addresses": [{"type": "InternalIP", "address": "192.168.1.100"}],
            "node_pods": 1,
            "node_created_at": now - timedelta(days=2),
            "node_synced_at": now,
        }
        for i in range(count)
    ]
    try:
        async with session_factory(engine)() as session, session.begin():
            for start in range(0, count, BATCH):
                await session.execute(
                    insert(cast(Table, Device.__table__)), rows[start : start + BATCH]
                )
            admin = await create_user(
                session, username="bench-admin", password=secrets.token_urlsafe(16), role=Role.ADMIN
            )
        return issue_token(settings=settings, user=admin).token
    finally:
        await engine.dispose()


@contextmanager
def serving(app: str, *, env: dict[str, str], log: Path) -> Iterator[str]:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", app, "--host", LOOPBACK, "--port", str(port)]
    command += ["--log-level", "warning", "--no-access-log"]
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_for_port(LOOPBACK, port, timeout=60)
            yield f"http://{LOOPBACK}:{port}"
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


async def load(
    base: str, path: str, *, headers: dict[str, str], requests: int, concurrency: int
) -> dict[str, float]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=60) as http:
        for _ in range(min(200, requests)):  # warm up: connections, caches, JIT-free paths
            (await http.get(path)).raise_for_status()
        latencies: list[float] = []
        failures = 0
        queue: asyncio.Queue[None] = asyncio.Queue()
        for _ in range(requests):
            queue.put_nowait(None)

        async def worker() -> None:
            nonlocal failures
            while not queue.empty():
                queue.get_nowait()
                start = time.perf_counter()
                response = await http.get(path)
                latencies.append((time.perf_counter() - start) * 1000)
                failures += response.status_code != 200

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {
        "rps": round(requests / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.5), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "errors": failures,
    }


async def main(*, devices: int, requests: int, concurrency: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="edgewright-bench-") as tmp:
        data = Path(tmp)
        env = {
            **os.environ,
            "EDGEWRIGHT_DATA_DIR": str(data),
            "EDGEWRIGHT_SECRET_KEY": secrets.token_urlsafe(48),
            # Nothing listens there: the API serves reads without Temporal.
            "EDGEWRIGHT_TEMPORAL_ADDRESS": f"{LOOPBACK}:{free_port()}",
            # The most the runtime config allows; the load stays below it.
            "EDGEWRIGHT_RATE_LIMIT_PER_MINUTE": "100000",
        }
        settings = Settings.model_validate(
            {"data_dir": data, "secret_key": env["EDGEWRIGHT_SECRET_KEY"]}
        )
        token = await seed(settings, count=devices)
        auth = {"Authorization": f"Bearer {token}"}
        pages = max(1, devices // 100)
        whole_requests = max(20, requests // 100)  # each answer is 100 pages' worth
        with serving("api.main:app", env=env, log=data / "api.log") as base:
            api = await load(
                base, "/api/kubeedge/devices?limit=100", headers=auth,
                requests=requests, concurrency=concurrency,
            )  # fmt: skip
            last = await load(
                base, f"/api/kubeedge/devices?limit=100&page={pages}", headers=auth,
                requests=requests // 4, concurrency=concurrency,
            )  # fmt: skip
            whole = await load(
                base, "/api/kubeedge/devices", headers=auth,
                requests=whole_requests, concurrency=4,
            )  # fmt: skip
        with serving("bench._bare_api:app", env=env, log=data / "bare.log") as base:
            bare = await load(
                base, "/bare/devices", headers={}, requests=requests, concurrency=concurrency
            )
            bare_whole = await load(
                base, "/bare/devices/all", headers={}, requests=whole_requests, concurrency=4
            )
    return {
        "bench": "api_reads",
        "devices": devices,
        "page_size": 100,
        "requests": requests,
        "concurrency": concurrency,
        "api": api,
        "api_last_page": last,
        "bare": bare,
        "ratio_rps_vs_bare": round(api["rps"] / bare["rps"], 3),
        "ratio_p99_vs_bare": round(api["p99_ms"] / bare["p99_ms"], 2),
        "api_whole_list": whole,
        "bare_whole_list": bare_whole,
        "ratio_whole_list_rps_vs_bare": round(whole["rps"] / bare_whole["rps"], 3),
        "store": "sqlite",
        "cpus": os.cpu_count(),
        # Other work on the machine skews both figures alike; the ratio is the robust one.
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    figures = asyncio.run(
        main(devices=args.devices, requests=args.requests, concurrency=args.concurrency)
    )
    print(json.dumps(figures), flush=True)
