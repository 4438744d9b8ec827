"""Device-join latency and throughput, beside a bare one-activity Temporal workflow.

`python -m bench.join_latency [--joins 200]` brings the embedded stack up, then measures:
- sequential: p50/p99 from POST /api/kubeedge/device/join to its answer, one at a time;
- concurrent: joins per minute with all joins in flight at once;
and the same two figures for a bare workflow running one no-op activity on the same
Temporal server, so the ratio shows what edgewright adds. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable

from temporalio.client import Client
from temporalio.worker import Worker

from bench._bare import BareWorkflow, noop
from bench._stack import bench_stack


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def sequential(count: int, one: Callable[[int], Awaitable[None]]) -> dict[str, float]:
    latencies = []
    for i in range(count):
        start = time.perf_counter()
        await one(i)
        latencies.append((time.perf_counter() - start) * 1000)
    return {
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
    }


async def concurrent(count: int, one: Callable[[int], Awaitable[None]]) -> float:
    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(count)))
    return round(count / (time.perf_counter() - start) * 60, 1)


async def main(joins: int) -> dict[str, object]:
    async with bench_stack() as stack:
        run = uuid.uuid4().hex[:6]

        def join(prefix: str) -> Callable[[int], Awaitable[None]]:
            async def one(i: int) -> None:
                body = {"node_name": f"{prefix}-{run}-{i}", "device_id": f"{prefix}-{run}-{i}"}
                answer = await stack.api.post("/api/kubeedge/device/join", json=body)
                if answer.status_code != 200:
                    raise RuntimeError(f"join {i} answered {answer.status_code}: {answer.text}")

            return one

        await join("warm")(0)
        join_seq = await sequential(joins, join("seq"))
        join_rate = await concurrent(joins, join("par"))

        client = await Client.connect(stack.temporal_address)
        queue = f"bare-{run}"
        async with Worker(client, task_queue=queue, workflows=[BareWorkflow], activities=[noop]):

            async def bare(i: int) -> None:
                await client.execute_workflow(
                    BareWorkflow.run, str(i), id=f"bare-{run}-{uuid.uuid4()}", task_queue=queue
                )

            await bare(-1)
            bare_seq = await sequential(joins, bare)
            bare_rate = await concurrent(joins, bare)

    return {
        "bench": "join_latency",
        "joins": joins,
        "join_sequential": join_seq,
        "join_concurrent_per_min": join_rate,
        "bare_sequential": bare_seq,
        "bare_concurrent_per_min": bare_rate,
        "ratio_p50_vs_bare": round(join_seq["p50_ms"] / bare_seq["p50_ms"], 2),
        "ratio_throughput_vs_bare": round(join_rate / bare_rate, 3),
        "cpus": os.cpu_count(),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--joins", type=int, default=200)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.joins))), flush=True)
    # temporalio can abort at interpreter exit after all work is done (sdk-python#300).
    os._exit(0)
