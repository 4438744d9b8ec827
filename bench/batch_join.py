"""Batch join end to end: devices provisioned per minute, beside bare workflows.

`python -m bench.batch_join --devices 1000` brings the embedded stack up (real
processes: dev server on the WAL SQLite file, broker, sandbox, worker, API, MQTT bridge),
posts one batch and waits until every device is provisioned (join command issued), then
runs the same number of bare one-activity workflows on the same server with the same
concurrency. Prints one JSON line with both rates, their ratio, the CPU each process
spent on the batch and the peak memory of each process (`peak_rss_mb`, taken when the
batch is done; the worker's again as `worker_peak_rss_mb`), the events of each run of
the batch's parent (`parent`) and each device's result in the store (`store_results`:
none pending, as many successes as the batch counted). `--profile DIR` records the worker
with py-spy during the batch.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.worker import Worker

from bench._bare import BareWorkflow, noop
from bench._batch_figures import parent_runs, store_results
from bench._profile import profiled
from bench._stack import bench_stack, cpu_seconds, cpu_split, peak_rss_split


async def bare_rate(address: str, *, count: int, concurrency: int) -> float:
    client = await Client.connect(address)
    queue = f"bare-{uuid.uuid4().hex[:6]}"
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            await client.execute_workflow(
                BareWorkflow.run, str(i), id=f"{queue}-{i}", task_queue=queue
            )

    async with Worker(client, task_queue=queue, workflows=[BareWorkflow], activities=[noop]):
        start = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(count)))
        return count / (time.perf_counter() - start) * 60


async def until_finished(
    api: httpx.AsyncClient, batch_id: str, *, stall_seconds: float
) -> dict[str, Any]:
    """The batch's final status; SystemExit when no device finishes for `stall_seconds`."""
    done, moved_at = -1, time.monotonic()
    while True:
        answer = await api.get(f"/api/kubeedge/batch-join/{batch_id}")
        answer.raise_for_status()
        status: dict[str, Any] = answer.json()
        if status["status"] in ("completed", "cancelled"):
            return status
        if status["success"] + status["failed"] != done:
            done, moved_at = status["success"] + status["failed"], time.monotonic()
        elif time.monotonic() - moved_at > stall_seconds:
            raise SystemExit(
                f"batch {batch_id} stalled: {done} devices finished, none in {stall_seconds:.0f} s"
            )
        await asyncio.sleep(0.5)


async def main(
    *, devices: int, concurrency: int, profile: Path | None = None, stall_seconds: float = 600
) -> dict[str, object]:
    async with bench_stack(bridge=True) as stack:
        tag = uuid.uuid4().hex[:6]
        body = {
            "devices": [
                {"node_name": f"{tag}-node-{i:05d}", "device_id": f"{tag}-dev-{i:05d}"}
                for i in range(devices)
            ],
            "max_concurrency": concurrency,
        }
        cpu_before = {name: cpu_seconds(pid) for name, pid in stack.pids.items()}
        start = time.perf_counter()
        with profiled(stack.pids["worker"], into=profile, name="worker-batch"):
            answer = await stack.api.post("/api/kubeedge/batch-join", json=body)
            answer.raise_for_status()
            batch_id = answer.json()["batch_id"]
            status = await until_finished(stack.api, batch_id, stall_seconds=stall_seconds)
        elapsed = time.perf_counter() - start
        cpu = cpu_split(stack.pids, cpu_before)
        peaks = peak_rss_split(stack.pids)
        load = os.getloadavg()
        join_rate = devices / elapsed * 60
        parent = await parent_runs(stack.temporal_address, batch_id)
        results = store_results(stack.data_dir, batch_id)
        bare = await bare_rate(stack.temporal_address, count=devices, concurrency=concurrency)
    return {
        "bench": "batch_join",
        "devices": devices,
        "concurrency": concurrency,
        "succeeded": status["success"],
        "failed": status["failed"],
        "seconds": round(elapsed, 1),
        "devices_per_min": round(join_rate, 1),
        "bare_workflows_per_min": round(bare, 1),
        "ratio_vs_bare": round(join_rate / bare, 3),
        "worker_peak_rss_mb": peaks.get("worker"),
        # The parent's runs: their events are what an evicted run replays.
        "parent": parent,
        "store_results": results,
        # Peak resident memory of every process (worker, api, bridge, ...), in MB.
        "peak_rss_mb": peaks,
        # Where the time went: CPU seconds per process during the batch.
        "cpu_seconds": cpu,
        "cpus": os.cpu_count(),
        # Other work on the machine: 1, 5 and 15-minute load averages when the batch ended.
        "load_average": [round(x, 2) for x in load],
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--profile", type=Path, default=None, help="py-spy profile into DIR")
    parser.add_argument(
        "--stall-seconds",
        type=float,
        default=600,
        help="give up when no device finishes for this long",
    )
    args = parser.parse_args()
    result = asyncio.run(
        main(
            devices=args.devices,
            concurrency=args.concurrency,
            profile=args.profile,
            stall_seconds=args.stall_seconds,
        )
    )
    print(json.dumps(result), flush=True)
    # temporalio can abort at interpreter exit after all work is done (sdk-python#300).
    os._exit(0)
