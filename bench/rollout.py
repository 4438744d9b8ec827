"""A workload rolled out to N simulated edge nodes in waves of 10%, and a bad revision rolled back.

`python -m bench.rollout --nodes 500` brings the embedded stack up as real processes
(dev server on the WAL SQLite file, broker, Kubernetes sandbox, worker, API) and then:

1. puts N nodes in place as joined devices would leave them: a device row each in the
   inventory and a Node with the edge labels, reported Ready, in the sandbox (joining them
   is bench.batch_join's business);
2. creates a workload and deploys it with the `canary` strategy (one canary node, then
   waves of 10%), timing it from the deploy call to `completed`;
3. updates it to a revision whose image fails on the nodes of the second half of the
   targets and deploys that, timing the rollback from the moment the rollout reports
   `rolling_back` to `rolled_back` (and the whole failed rollout beside it);
4. as the bare baseline, creates the same N Deployments directly with the kubernetes
   client (8 at a time), no workflow, no gate.

What is simulated: the nodes' kubelets and the Deployment controller. The sandbox runs no
controller, so `simulator.workloads.WorkloadReporter` (the same one `python -m simulator
--edgecore` runs) writes each object's status once a second, as a kubelet that starts
pods at once would: ready at the object's generation, or failed (condition
`edgewright.io/Failed`) on the nodes told to fail the bad image. Every apply, gate read
and rollback goes over HTTP to the sandbox through the worker's real activities.

Prints one JSON line: nodes, waves, rollout_seconds, rollback_seconds, bare_apply_seconds,
their ratio, and the worker's peak memory.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from kubernetes import client

from bench._stack import bench_stack, peak_rss_mb
from simulator.edgecore import NodeRegistry
from simulator.workloads import WorkloadReporter
from store.db import create_engine, session_factory
from store.devices import inventory
from workflows.contracts.workloads import HOSTNAME_LABEL, labels_for, workload_object_name

IMAGE = "registry.example/bench-app"
CONCURRENCY = 8
FINAL = ("completed", "rolled_back", "failed", "superseded")


def sandbox_client(url: str) -> client.ApiClient:
    configuration = client.Configuration()
    configuration.host = url
    configuration.connection_pool_maxsize = CONCURRENCY * 2
    return client.ApiClient(configuration)


async def bounded(calls: list[Any], *, limit: int = CONCURRENCY) -> None:
    slots = asyncio.Semaphore(limit)

    async def one(call: Any) -> None:
        async with slots:
            await call()

    await asyncio.gather(*(one(call) for call in calls))


async def seed_nodes(*, data_dir: Path, api: client.ApiClient, names: list[str]) -> None:
    """Inventory rows and Ready edge Nodes, as the join left them."""
    engine = create_engine(f"sqlite+aiosqlite:///{(data_dir / 'edgewright.db').as_posix()}")
    try:
        async with session_factory(engine)() as session, session.begin():
            for name in names:
                await inventory.upsert_device(
                    session, device_id=f"{name}-dev", node_name=name, status="joined"
                )
    finally:
        await engine.dispose()
    registry = NodeRegistry(api_client=api)
    await bounded([lambda n=name: registry.report(n, ready=True) for name in names])


async def rollout_of(api: httpx.AsyncClient, workload_id: str, rollout_id: str) -> dict[str, Any]:
    answer = await api.get(f"/api/v1/workloads/{workload_id}/rollouts/{rollout_id}")
    answer.raise_for_status()
    body: dict[str, Any] = answer.json()
    return body


async def deploy(api: httpx.AsyncClient, workload_id: str) -> str:
    answer = await api.post(f"/api/v1/workloads/{workload_id}/deploy", json={"strategy": "canary"})
    answer.raise_for_status()
    return str(answer.json()["deployment_id"])


async def until_final(
    api: httpx.AsyncClient, workload_id: str, rollout_id: str
) -> tuple[dict[str, Any], float | None]:
    """The rollout's final view, and when (perf_counter) it was first seen rolling back."""
    rolling_back_at = None
    while True:
        view = await rollout_of(api, workload_id, rollout_id)
        if view["state"] == "rolling_back" and rolling_back_at is None:
            rolling_back_at = time.perf_counter()
        if view["state"] in FINAL:
            return view, rolling_back_at
        await asyncio.sleep(0.2)


def bare_body(name: str, node: str) -> dict[str, Any]:
    labels = labels_for("bare", 1, node)
    pod = {
        "metadata": {"labels": {**labels, "app": name}},
        "spec": {
            "nodeSelector": {HOSTNAME_LABEL: node},
            "containers": [{"name": "app", "image": f"{IMAGE}:1"}],
        },
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default", "labels": labels},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}}, "template": pod},
    }


async def bare_apply(api: client.ApiClient, names: list[str]) -> float:
    apps = client.AppsV1Api(api)

    def create(node: str) -> None:
        body = bare_body(workload_object_name("bare", node), node)
        apps.create_namespaced_deployment("default", body, _preload_content=False)

    start = time.perf_counter()
    await bounded([lambda n=name: asyncio.to_thread(create, n) for name in names])
    return time.perf_counter() - start


@contextlib.asynccontextmanager
async def reporting(reporter: WorkloadReporter, names: list[str]) -> AsyncIterator[None]:
    task = asyncio.create_task(reporter.run(lambda: ((name, True) for name in names)))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def timed(
    api: httpx.AsyncClient, reporter: WorkloadReporter, names: list[str]
) -> dict[str, Any]:
    """Roll a workload out, then a revision failing on half the nodes; the timings."""
    created = await api.post(
        "/api/v1/workloads",
        json={
            "name": "bench-app",
            "namespace": "default",
            "type": "deployment",
            "image": f"{IMAGE}:1",
            "replicas": 1,
            "placement": {"strategy": "edge-only"},
        },
    )
    created.raise_for_status()
    workload_id = created.json()["id"]

    start = time.perf_counter()
    first, _ = await until_final(api, workload_id, await deploy(api, workload_id))
    rollout_seconds = time.perf_counter() - start
    if first["state"] != "completed":
        raise RuntimeError(f"the rollout ended {first['state']}: {first}")

    # The bad image fails on the second half of the targets.
    for name in names[len(names) // 2 :]:
        reporter.steer(name, {"workloads": "fail", "image": f"{IMAGE}:2"})
    # The update starts its rollout itself, with the last deploy's strategy and targets.
    start = time.perf_counter()
    updated = await api.put(f"/api/v1/workloads/{workload_id}", json={"image": f"{IMAGE}:2"})
    updated.raise_for_status()
    second, rolling_back_at = await until_final(api, workload_id, updated.json()["deployment_id"])
    finished = time.perf_counter()
    if second["state"] != "rolled_back" or rolling_back_at is None:
        raise RuntimeError(f"the bad revision ended {second['state']}: {second}")
    return {
        "waves": first["progress"]["waves_total"],
        "rollout_seconds": round(rollout_seconds, 1),
        "rollback_seconds": round(finished - rolling_back_at, 1),
        "failed_rollout_seconds": round(finished - start, 1),
        "rolled_back_nodes": len(second["progress"]["rolled_back"]),
    }


async def main(*, nodes: int) -> dict[str, object]:
    names = [f"bench-node-{n:04d}" for n in range(1, nodes + 1)]
    async with bench_stack() as stack:
        kube = sandbox_client(stack.sandbox_url)
        try:
            await seed_nodes(data_dir=stack.data_dir, api=kube, names=names)
            reporter = WorkloadReporter(api_client=kube, interval=1.0)
            async with reporting(reporter, names):
                result = await timed(stack.api, reporter, names)
            worker_peak = peak_rss_mb(stack.pids["worker"])
            # The baseline on the same sandbox, in the same run, after the workflows are done.
            bare = await bare_apply(kube, names)
        finally:
            kube.close()
    return {
        "bench": "rollout",
        "nodes": nodes,
        **result,
        "bare_apply_seconds": round(bare, 2),
        "ratio_vs_bare": round(result["rollout_seconds"] / bare, 1),
        "worker_peak_rss_mb": worker_peak,
        "cpus": os.cpu_count(),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=500)
    args = parser.parse_args()
    result = asyncio.run(main(nodes=args.nodes))
    print(json.dumps(result), flush=True)
    # temporalio can abort at interpreter exit after all work is done (sdk-python#300).
    os._exit(0)
