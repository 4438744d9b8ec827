"""API reads: GET /api/kubeedge/devices?limit=100 with 10,000 devices in the store, beside
a bare FastAPI endpoint answering a page of the same shape from memory.

`python -m bench.api_reads [--devices 10000] [--requests 2000] [--concurrency 16]
[--stores sqlite,postgresql] [--profile DIR]` seeds each store (a SQLite file in a temporary
directory; a throwaway PostgreSQL server, bench/_servers.py) with devices with node facts,
as the node sync writes them (PostgreSQL's table then vacuumed, as autovacuum leaves
it), serves the real app on it and then the bare one, each as one uvicorn process, and
loads each over HTTP from this process with httpx. Both serve at once
and take turns in short bursts, so each ratio compares figures taken moments apart.
Also measured: the last page (`page=100`), where the store has to skip 9,900 rows, and
the whole list (no `page` or `limit`: every device, streamed) beside a bare endpoint
answering the same 10,000 items from memory.
Memory: the API's resident and peak MB after the pages and after reading the whole list.
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
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import httpx
from sqlalchemy import Table, insert, text

from api.core.auth import issue_token
from bench._profile import memory_mb, profiled
from bench._servers import postgres_available, postgres_database
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
        if engine.dialect.name == "postgresql":
            # As autovacuum leaves a table some time after a bulk load: its visibility map
            # lets the count read an index alone. Measured right after the load, every
            # page's count would scan the whole table, which no store serving reads for
            # longer than a minute or so does.
            async with engine.connect() as connection:
                vacuum = await connection.execution_options(isolation_level="AUTOCOMMIT")
                await vacuum.execute(text("VACUUM ANALYZE devices"))
        return issue_token(settings=settings, user=admin).token
    finally:
        await engine.dispose()


@contextmanager
def serving(app: str, *, env: dict[str, str], log: Path) -> Iterator[tuple[str, int]]:
    """A uvicorn process serving `app`: its base URL and pid."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", app, "--host", LOOPBACK, "--port", str(port)]
    command += ["--log-level", "warning", "--no-access-log"]
    # Targets take turns, so a client's connections idle through the others' bursts:
    # uvicorn's 5 s keep-alive would close them under the client's next request.
    command += ["--timeout-keep-alive", "600"]
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            try:
                # Generous: a loaded shared machine can take a minute to import the app.
                wait_for_port(LOOPBACK, port, timeout=240)
            except TimeoutError:
                print(log.read_text()[-3000:], file=sys.stderr)
                raise
            yield f"http://{LOOPBACK}:{port}", process.pid
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


@dataclass(frozen=True)
class Target:
    base: str
    path: str
    headers: dict[str, str]


async def _burst(
    http: httpx.AsyncClient, path: str, *, requests: int, concurrency: int
) -> tuple[list[float], float, int]:
    """`requests` GETs from `concurrency` clients: latencies (ms), seconds, failures."""
    latencies: list[float] = []
    failures = 0
    left = requests

    async def worker() -> None:
        nonlocal failures, left
        while left > 0:
            left -= 1
            start = time.perf_counter()
            response = await http.get(path)
            latencies.append((time.perf_counter() - start) * 1000)
            failures += response.status_code != 200

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - started, failures


async def load(
    targets: dict[str, Target], *, requests: int, concurrency: int, rounds: int = 4
) -> dict[str, dict[str, float]]:
    """Each target in turn, `rounds` times, `requests` in all per target.

    Taking turns in short bursts means a noisy neighbour on the machine slows every target
    alike, so their ratios hold even when the absolute figures wander."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    clients = {
        name: httpx.AsyncClient(
            base_url=target.base, headers=target.headers, limits=limits, timeout=120
        )
        for name, target in targets.items()
    }
    latencies: dict[str, list[float]] = {name: [] for name in targets}
    seconds = dict.fromkeys(targets, 0.0)
    failures = dict.fromkeys(targets, 0)
    try:
        for name, target in targets.items():  # warm up: connections, caches
            for _ in range(min(100, requests)):
                (await clients[name].get(target.path)).raise_for_status()
        per_round = max(1, requests // rounds)
        for _ in range(rounds):
            for name, target in targets.items():
                got, took, failed = await _burst(
                    clients[name], target.path, requests=per_round, concurrency=concurrency
                )
                latencies[name] += got
                seconds[name] += took
                failures[name] += failed
    finally:
        for http in clients.values():
            await http.aclose()
    return {
        name: {
            "rps": round(len(latencies[name]) / seconds[name], 1),
            "p50_ms": round(percentile(latencies[name], 0.5), 2),
            "p99_ms": round(percentile(latencies[name], 0.99), 2),
            "errors": failures[name],
        }
        for name in targets
    }


async def measure_store(
    store: str, *, url: str | None, devices: int, requests: int, concurrency: int,
    profile: Path | None,
) -> dict[str, Any]:  # fmt: skip
    """The real API on one store, then the bare endpoint right after it (same load)."""
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
        if url is not None:
            env["EDGEWRIGHT_DATABASE_URL"] = url
        settings = Settings.model_validate(
            {"data_dir": data, "secret_key": env["EDGEWRIGHT_SECRET_KEY"], "database_url": url}
        )
        token = await seed(settings, count=devices)
        auth = {"Authorization": f"Bearer {token}"}
        pages = max(1, devices // 100)
        whole_requests = max(8, requests // 200)  # each answer is 100 pages' worth
        with (
            serving("api.main:app", env=env, log=data / "api.log") as (api_base, pid),
            serving("bench._bare_api:app", env=env, log=data / "bare.log") as (bare_base, bare),
        ):
            page = "/api/kubeedge/devices?limit=100"
            with profiled(pid, into=profile, name=f"api-{store}-page"):
                pages_figures = await load(
                    {
                        "api": Target(api_base, page, auth),
                        "api_last_page": Target(api_base, f"{page}&page={pages}", auth),
                        "bare": Target(bare_base, "/bare/devices", {}),
                    },
                    requests=requests,
                    concurrency=concurrency,
                )
            after_pages = memory_mb(pid)
            whole_figures = await load(
                {
                    "api": Target(api_base, "/api/kubeedge/devices", auth),
                    "bare": Target(bare_base, "/bare/devices/all", {}),
                },
                requests=whole_requests,
                concurrency=4,
                rounds=2,
            )
            # What the API holds once it has read every device (the whole list) a few times.
            after_whole = memory_mb(pid)
            bare_memory = memory_mb(bare)
    api, last, bare_page = (pages_figures[k] for k in ("api", "api_last_page", "bare"))
    whole, bare_whole = whole_figures["api"], whole_figures["bare"]
    return {
        "api": api,
        "api_last_page": last,
        "bare": bare_page,
        "ratio_rps_vs_bare": round(api["rps"] / bare_page["rps"], 3),
        "ratio_p99_vs_bare": round(api["p99_ms"] / bare_page["p99_ms"], 2),
        "api_whole_list": whole,
        "bare_whole_list": bare_whole,
        "ratio_whole_list_rps_vs_bare": round(whole["rps"] / bare_whole["rps"], 3),
        "memory_mb": {
            "api_after_pages": after_pages,
            "api_after_whole_list": after_whole,
            "bare_after_whole_list": bare_memory,
        },
    }


async def main(
    *, devices: int, requests: int, concurrency: int, stores: list[str], profile: Path | None
) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "bench": "api_reads",
        "devices": devices,
        "page_size": 100,
        "requests": requests,
        "concurrency": concurrency,
    }
    for store in stores:
        if store == "sqlite":
            figures[store] = await measure_store(
                store, url=None, devices=devices, requests=requests,
                concurrency=concurrency, profile=profile,
            )  # fmt: skip
        elif not postgres_available():
            figures[store] = {"skipped": "PostgreSQL is not installed (make system-deps)"}
        else:
            async with postgres_database() as url:
                figures[store] = await measure_store(
                    store, url=url, devices=devices, requests=requests,
                    concurrency=concurrency, profile=profile,
                )  # fmt: skip
        for ratio in ("ratio_rps_vs_bare", "ratio_p99_vs_bare"):
            if ratio in figures[store]:
                figures[f"{ratio}_{store}"] = figures[store][ratio]
    figures["cpus"] = os.cpu_count()
    # Other work on the machine skews both figures alike; the ratio is the robust one.
    figures["load_avg_1m"] = round(os.getloadavg()[0], 2)
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--stores", default="sqlite,postgresql", help="comma-separated")
    parser.add_argument("--profile", type=Path, default=None, help="py-spy profiles into DIR")
    args = parser.parse_args()
    figures = asyncio.run(
        main(
            devices=args.devices,
            requests=args.requests,
            concurrency=args.concurrency,
            stores=args.stores.split(","),
            profile=args.profile,
        )
    )
    print(json.dumps(figures), flush=True)
