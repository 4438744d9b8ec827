"""Bridge ingest: status heartbeats per second through the bridge into the store.

`python -m bench.bridge_ingest [--devices 10000] [--messages 100000] [--rate 3000]` starts
a broker, a Temporal dev server (in memory) and a SQLite store (or, with `--store
postgresql`, a throwaway PostgreSQL server) holding `devices` devices,
runs the bridge (workers.bridge.service, as `python -m workers.bridge` does) in this
process, and sends it heartbeats from a separate process (bench._flood):
- flat out: the most messages per second the bridge takes in (each parsed, coalesced
  into the next store batch and published on the event bus); the broker drops what a
  subscriber cannot take, so `received` may be below `sent`;
- sustained at `--rate` for 15 s: whether everything arrives, how long each store flush
  takes and how big it is, and how long after the last message the store has it all.
Each phase also gives the store lag of its flushes, p50 and p99: the age of a flush's
oldest heartbeat when the flush committed (what the bridge's
`edgewright_bridge_store_lag_seconds` observes); with one flush a second, the p99 of a
phase's dozen or so flushes is close to their worst.
The baseline is a bare subscriber that only counts, fed the same flat-out flood.
The requirement is 10,000 devices every 15 s: 667 messages/s. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from adapters.mqtt.client import AsyncMqttClient, MiscTicker
from adapters.mqtt.credentials import MqttCredentials, service_credentials
from bench._servers import postgres
from store.db import create_engine, session_factory
from store.migrate import upgrade_async
from store.models import Device, utcnow
from store.settings import Settings
from workers.bridge.service import Bridge, running_bridge
from workers.processes import (
    LOOPBACK,
    broker_accounts,
    broker_command,
    free_port,
    temporal_dev_server_command,
    wait_for_port,
)

PREFIX = "ingest-"
REQUIRED_PER_SECOND = 10_000 / 15
SUSTAINED_SECONDS = 15


@dataclass(frozen=True)
class Flush:
    ended: float
    ms: float
    rows: int
    lag_s: float  # age of its oldest heartbeat once stored


async def flood(
    *,
    port: int,
    devices: int,
    messages: int,
    credentials: MqttCredentials | None,
    rate: float = 0.0,
) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench._flood", "--port", str(port), "--rate", str(rate)]
    command += ["--devices", str(devices), "--messages", str(messages), "--prefix", PREFIX]
    env = dict(os.environ)
    if credentials is not None:  # the services' account: it publishes for every device
        env["EDGEWRIGHT_MQTT_USERNAME"] = credentials.username
        env["EDGEWRIGHT_MQTT_PASSWORD"] = credentials.password
    process = await asyncio.create_subprocess_exec(*command, stdout=subprocess.PIPE, env=env)
    out, _ = await process.communicate()
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


async def watch(count: Callable[[], int], *, expected: int) -> tuple[float, float, int]:
    """(first, last) arrival times and how many arrived; ends when done or stalled 3 s."""
    first = last = 0.0
    seen = 0
    while True:
        await asyncio.sleep(0.01)
        now = time.perf_counter()
        current = count()
        if current and not first:
            first = now
        if current != seen:
            seen, last = current, now
        if seen >= expected or (first and now - last > 3.0):
            return first, last, seen


async def add_devices(url: str, devices: int) -> None:
    engine = create_engine(url)
    now = utcnow()
    rows = [
        {
            "device_id": f"{PREFIX}{n:05d}",
            "node_name": f"{PREFIX}{n:05d}-node",
            "status": "joined",
            "configuration": {},
            "created_at": now,
            "updated_at": now,
        }
        for n in range(1, devices + 1)
    ]
    try:
        async with session_factory(engine)() as session, session.begin():
            await session.execute(insert(Device), rows)
    finally:
        await engine.dispose()


def record_flushes(bridge: Bridge, into: list[Flush]) -> None:
    original = bridge.batcher.flush

    async def timed_flush() -> None:
        rows = bridge.batcher.pending
        waited = bridge.batcher.lag_seconds()
        start = time.perf_counter()
        await original()
        if rows:
            ended = time.perf_counter()
            into.append(
                Flush(
                    ended=ended, ms=(ended - start) * 1000, rows=rows, lag_s=waited + ended - start
                )
            )

    bridge.batcher.flush = timed_flush  # type: ignore[method-assign]


async def run_through(
    bridge: Bridge,
    *,
    port: int,
    devices: int,
    messages: int,
    rate: float,
    credentials: MqttCredentials | None,
) -> dict[str, Any]:
    flushes: list[Flush] = []
    record_flushes(bridge, flushes)
    before = bridge.ingest.counts["status"]
    sending = asyncio.create_task(
        flood(port=port, devices=devices, messages=messages, rate=rate, credentials=credentials)
    )
    first, last, seen = await watch(
        lambda: bridge.ingest.counts["status"] - before, expected=messages
    )
    sent = await sending
    await asyncio.sleep(2.0)  # at least one more flush after the last message
    stored = next((f.ended for f in flushes if f.ended >= last), None)
    durations = [f.ms for f in flushes]
    lags = [f.lag_s for f in flushes]
    return {
        "sent": messages,
        "received": seen,
        "sent_per_s": round(messages / sent["seconds"], 1),
        "received_per_s": round(seen / (last - first), 1) if last > first else None,
        "flushes": len(flushes),
        "flush_p50_ms": round(statistics.median(durations), 1) if durations else None,
        "flush_max_ms": round(max(durations), 1) if durations else None,
        "largest_flush_rows": max((f.rows for f in flushes), default=0),
        "store_lag_s": round(stored - last, 2) if stored is not None else None,
        "store_lag_p50_s": round(statistics.median(lags), 2) if lags else None,
        "store_lag_p99_s": _p99(lags),
    }


def _p99(values: list[float]) -> float | None:
    if len(values) < 2:
        return round(values[0], 2) if values else None
    return round(statistics.quantiles(values, n=100, method="inclusive")[98], 2)


async def bare(
    *, port: int, devices: int, messages: int, credentials: MqttCredentials | None
) -> float | None:
    received = 0

    def count(message: object) -> None:
        nonlocal received
        received += 1

    client = AsyncMqttClient(
        host=LOOPBACK,
        port=port,
        client_id="bare-counter",
        ticker=MiscTicker(),
        credentials=credentials,
    )
    client.on_connect = lambda: client.subscribe([("cloudcore/device/+/status", 1)])
    client.on_message = count
    await client.start()
    async with asyncio.timeout(30):
        await client.connected.wait()
    await asyncio.sleep(0.5)
    sending = asyncio.create_task(
        flood(port=port, devices=devices, messages=messages, credentials=credentials)
    )
    first, last, seen = await watch(lambda: received, expected=messages)
    await sending
    await client.close()
    return round(seen / (last - first), 1) if last > first else None


async def measure(
    settings: Settings, *, devices: int, messages: int, rate: float
) -> dict[str, Any]:
    await upgrade_async(settings.sqlalchemy_url)
    await add_devices(settings.sqlalchemy_url, devices)
    temporal = await Client.connect(
        settings.temporal_address, data_converter=pydantic_data_converter
    )
    engine = create_engine(settings.sqlalchemy_url)
    sessions = session_factory(engine)
    port = settings.mqtt_port
    credentials = service_credentials(settings)
    try:
        async with running_bridge(
            settings=settings, temporal=temporal, sessions=sessions
        ) as bridge:
            async with asyncio.timeout(30):
                await bridge.mqtt.connected.wait()
            await asyncio.sleep(0.5)
            flat_out = await run_through(
                bridge,
                port=port,
                devices=devices,
                messages=messages,
                rate=0.0,
                credentials=credentials,
            )
            # This process is the bridge (the flood and the servers are others): its CPU
            # over the sustained run, per heartbeat received, sizes bridges (docs/scaling.md).
            cpu_before = time.process_time()
            sustained = await run_through(
                bridge,
                port=port,
                devices=devices,
                messages=int(rate * SUSTAINED_SECONDS),
                rate=rate,
                credentials=credentials,
            )
            cpu = time.process_time() - cpu_before
            if sustained["received"]:
                sustained["bridge_cpu_ms_per_heartbeat"] = round(
                    cpu / sustained["received"] * 1000, 3
                )
        async with sessions() as session:
            online = await session.scalar(
                select(func.count()).select_from(Device).where(Device.presence_online)
            )
    finally:
        await engine.dispose()
    baseline = await bare(port=port, devices=devices, messages=messages, credentials=credentials)
    capacity = flat_out["received_per_s"]
    return {
        "flat_out": flat_out,
        "sustained": {"rate_per_s": rate, **sustained},
        "devices_online_in_store": online,
        "bare_received_per_s": baseline,
        "ratio_vs_bare": round(capacity / baseline, 3) if capacity and baseline else None,
        "headroom_vs_required": round(capacity / REQUIRED_PER_SECOND, 1) if capacity else None,
    }


def main(devices: int, messages: int, rate: float, store: str = "sqlite") -> dict[str, Any]:
    with contextlib.ExitStack() as stack:
        directory = stack.enter_context(tempfile.TemporaryDirectory(prefix="edgewright-ingest-"))
        database = {"database_url": stack.enter_context(postgres())} if store != "sqlite" else {}
        data = Path(directory)
        mqtt_port, temporal_port = free_port(), free_port()
        accounts = broker_accounts(data)
        broker = subprocess.Popen(
            broker_command(port=mqtt_port, data_dir=data, accounts=accounts),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        server = subprocess.Popen(
            temporal_dev_server_command(
                port=temporal_port, ui_port=free_port(), db_file=None, headless=True
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_port(LOOPBACK, mqtt_port)
            wait_for_port(LOOPBACK, temporal_port)
            settings = Settings.model_validate(
                {
                    "data_dir": data,
                    "mqtt_port": mqtt_port,
                    "mqtt_username": accounts.service.username,
                    "mqtt_password": accounts.service.password,
                    "temporal_address": f"{LOOPBACK}:{temporal_port}",
                    "bridge_client_id": "bench-bridge",
                    "bridge_share_group": "",
                    **database,
                }
            )
            figures = asyncio.run(measure(settings, devices=devices, messages=messages, rate=rate))
        finally:
            for process in (broker, server):
                process.terminate()
                process.wait(15)
    return {
        "bench": "bridge_ingest",
        "store": store,
        "devices": devices,
        **figures,
        "required_msgs_per_s": round(REQUIRED_PER_SECOND, 1),
        "flush_interval_s": settings.bridge_flush_interval_seconds,
        "cpus": os.cpu_count(),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=2000.0, help="sustained messages/s")
    parser.add_argument(
        "--store",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="a SQLite file, or a throwaway PostgreSQL server started for the run",
    )
    args = parser.parse_args()
    print(json.dumps(main(args.devices, args.messages, args.rate, args.store)), flush=True)
    # temporalio can abort at interpreter exit after all work is done (sdk-python#300).
    os._exit(0)
