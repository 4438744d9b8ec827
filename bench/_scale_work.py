"""The work of the scale-out run: a batch join, commands, a rollout, each over `Rotation`.

Each returns when its work is over and records how long it took; the batch join also
exposes its progress, so the run can pick the moment to kill replicas.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench._scale_clients import Rotation
from store.models import CommandRow

ROLLOUT_FINAL = ("completed", "rolled_back", "failed", "superseded")
COMMAND_FINAL = ("completed", "failed", "timed_out", "cancelled")
# The hanging devices' commands end by their timeout; the others have room for a worker
# or a bridge to die and be replaced (the durable session's lease runs out in 15 s).
ANSWER_TIMEOUT = 90.0
HANG_TIMEOUT = 10.0


@dataclass
class Progress:
    joined: int = 0
    commands_sent: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    outcome: dict[str, Any] = field(default_factory=dict)


def _ok(answer: Any, *statuses: int) -> dict[str, Any]:
    if answer.status_code not in statuses:
        raise RuntimeError(f"{answer.request.method} {answer.request.url}: {answer.text[:500]}")
    body: dict[str, Any] = answer.json()
    return body


async def batch_join(
    api: Rotation, progress: Progress, *, tag: str, devices: int, window: int
) -> None:
    body = {
        "batch_id": f"{tag}-batch",
        "devices": [
            {"node_name": f"{tag}-node-{n:05d}", "device_id": f"{tag}-dev-{n:05d}"}
            for n in range(devices)
        ],
        "max_concurrency": window,
    }
    start = time.perf_counter()
    batch_id = _ok(await api.request("POST", "/api/kubeedge/batch-join", json=body), 200, 202)[
        "batch_id"
    ]
    while True:
        status = _ok(await api.request("GET", f"/api/kubeedge/batch-join/{batch_id}"), 200)
        progress.joined = int(status["success"])
        if status["status"] in ("completed", "cancelled"):
            break
        await asyncio.sleep(0.5)
    progress.seconds["join"] = time.perf_counter() - start
    progress.outcome["join"] = {
        "status": status["status"],
        "success": status["success"],
        "failed": status["failed"],
    }


async def commands(
    api: Rotation,
    sessions: async_sessionmaker[AsyncSession],
    progress: Progress,
    *,
    tag: str,
    targets: list[tuple[str, bool]],
    count: int,
    concurrency: int = 8,
) -> dict[str, str]:
    """`count` commands spread over `targets` (device ID, answers); each command's
    expected end state, by command ID, once every command has ended."""
    expected = {}
    slots = asyncio.Semaphore(concurrency)

    async def send(n: int) -> None:
        device_id, answers = targets[n % len(targets)]
        command_id = f"{tag}-cmd-{n:05d}"
        expected[command_id] = "completed" if answers else "timed_out"
        body = {
            "command": "ping",
            "command_id": command_id,
            "timeout": ANSWER_TIMEOUT if answers else HANG_TIMEOUT,
        }
        async with slots:
            path = f"/api/kubeedge/device/{device_id}/command"
            _ok(await api.request("POST", path, json=body), 200, 202)
            progress.commands_sent += 1

    start = time.perf_counter()
    await asyncio.gather(*(send(n) for n in range(count)))
    while True:
        async with sessions() as session:
            rows = await session.execute(
                select(CommandRow.command_id, CommandRow.status).where(
                    CommandRow.command_id.in_(list(expected))
                )
            )
            ended = sum(1 for _, status in rows if status in COMMAND_FINAL)
        if ended == count:
            break
        await asyncio.sleep(0.5)
    progress.seconds["commands"] = time.perf_counter() - start
    return expected


async def rollout(api: Rotation, progress: Progress, *, tag: str, image: str) -> None:
    """A workload deployed with the canary strategy to every edge node of the run."""
    created = await api.request(
        "POST",
        "/api/v1/workloads",
        json={
            "name": f"{tag}-app",
            "namespace": "default",
            "type": "deployment",
            "image": image,
            "replicas": 1,
            "placement": {"strategy": "edge-only"},
        },
    )
    workload_id = _ok(created, 200, 201)["id"]
    start = time.perf_counter()
    path = f"/api/v1/workloads/{workload_id}/deploy"
    rollout_id = _ok(await api.request("POST", path, json={"strategy": "canary"}), 200, 201, 202)[
        "deployment_id"
    ]
    while True:
        path = f"/api/v1/workloads/{workload_id}/rollouts/{rollout_id}"
        view = _ok(await api.request("GET", path), 200)
        if view["state"] in ROLLOUT_FINAL:
            break
        await asyncio.sleep(0.5)
    progress.seconds["rollout"] = time.perf_counter() - start
    progress.outcome["rollout"] = {
        "state": view["state"],
        "targets": view["progress"].get("total_nodes"),
        "nodes_ready": view["progress"].get("nodes_ready"),
        "waves": view["progress"].get("waves_total"),
        "workload_id": workload_id,
        "rollout_id": rollout_id,
    }
