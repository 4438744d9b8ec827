"""One scale-out run: the stack in a shape, the work, the kills, and what it all left.

bench.scale_out runs it twice: replicated with kills, then one of each without.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from kubernetes import client as k8s
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench import _scale_checks as checks
from bench._scale_clients import BusRecorder, Rotation, SseClient, compare
from bench._scale_figures import broker_state, history_sizes, store_bytes, temporal_bytes
from bench._scale_stack import ScaleStack, Shape, scale_stack
from bench._scale_work import Progress, batch_join, commands, rollout
from simulator.edgecore import NodeRegistry
from simulator.workloads import WorkloadReporter
from store.db import create_engine, session_factory
from store.devices import inventory
from store.models import Device, Lease
from workers.processes import DYNSEC_STATE_FILE

Sessions = async_sessionmaker[AsyncSession]
WATCHED = "device_provisioned,command_sent,command_result"
DOWN_SECONDS = 5.0  # how long the killed replicas stay away
HANGING_SHARE = 5  # one device in five never answers


@dataclass(frozen=True, kw_only=True)
class Size:
    devices: int
    commands: int
    nodes: int
    window: int = 100


def fleet_of(size: Size, tag: str) -> dict[str, list[str]]:
    """Command targets: `{tag}-ans-NNNN` answer, `{tag}-hang-NNNN` never do."""
    total = max(2, min(size.commands, 50))
    hanging = max(1, total // HANGING_SHARE)
    return {
        "ans": [f"{tag}-ans-{n:04d}" for n in range(1, total - hanging + 1)],
        "hang": [f"{tag}-hang-{n:04d}" for n in range(1, hanging + 1)],
    }


async def seed(
    sessions: Sessions, kube: k8s.ApiClient, *, fleet: dict[str, list[str]], nodes: list[str]
) -> None:
    """Command targets and rollout nodes in the inventory; the nodes Ready in the sandbox."""
    async with sessions() as session, session.begin():
        for ids in fleet.values():
            for device_id in ids:
                await inventory.upsert_device(
                    session,
                    device_id=device_id,
                    node_name=f"{device_id}-n",
                    status="joined",
                    device_type="camera",
                )
        for node in nodes:
            await inventory.upsert_device(
                session, device_id=f"{node}-dev", node_name=node, status="joined"
            )
    registry = NodeRegistry(api_client=kube)
    slots = asyncio.Semaphore(8)

    async def ready(node: str) -> None:
        async with slots:
            await registry.report(node, ready=True)

    await asyncio.gather(*(ready(node) for node in nodes))


def start_fleets(stack: ScaleStack, fleet: dict[str, list[str]], tag: str) -> None:
    for kind, ids in fleet.items():
        command = [sys.executable, "-m", "simulator", "--devices", str(len(ids))]
        command += ["--prefix", f"{tag}-{kind}-", "--node-prefix", f"{tag}-{kind}node-"]
        command += ["--heartbeat", "15", "--detections", "0", "--device-type", "camera"]
        if kind == "hang":
            command += ["--hang-fraction", "1"]
        stack.processes.start(f"simulator-{kind}", command, env=stack.env)


async def all_online(sessions: Sessions, ids: list[str]) -> None:
    for _ in range(1200):
        async with sessions() as session:
            online = await session.scalar(
                select(func.count())
                .select_from(Device)
                .where(Device.presence_online, Device.device_id.in_(ids))
            )
        if online == len(ids):
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"only {online} of {len(ids)} simulated devices came online")


async def login(url: str, password: str) -> str:
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        for _ in range(600):
            answer = await http.post(
                "/api/auth/login", json={"username": "admin", "password": password}
            )
            if answer.status_code == 200:
                return str(answer.json()["token"])
            await asyncio.sleep(0.5)
    raise RuntimeError(f"no login on {url}: {answer.status_code} {answer.text[:300]}")


async def durable_holder(sessions: Sessions, bridges: int) -> str:
    """The bridge holding the durable MQTT session (results and last wills)."""
    async with sessions() as session:
        holders = (await session.scalars(select(Lease.holder))).all()
    for holder in holders:
        name = holder.split("/", 1)[0]
        if name.startswith("bridge-"):
            return name
    return f"bridge-{bridges - 1}"


async def chaos(
    stack: ScaleStack, sessions: Sessions, progress: Progress, size: Size, join: asyncio.Task[None]
) -> list[str]:
    """Mid-batch, SIGKILL a worker, the durable bridge and an API. A third of the way: the
    batch's progress is read every half second and joins finish in bursts, so aiming at
    half lands later than half."""
    # Polled: the batch's progress is the API's answer, read by the join task.
    while progress.joined < size.devices // 3 and not join.done():  # noqa: ASYNC110
        await asyncio.sleep(0.2)
    bridge = await durable_holder(sessions, stack.shape.bridges)
    killed = [f"worker-{stack.shape.workers - 1}", bridge, f"api-{stack.shape.api_replicas - 1}"]
    for name in killed:
        stack.processes.kill(name)
    progress.outcome["killed_at"] = {
        "joined": progress.joined,
        "commands_sent": progress.commands_sent,
    }
    await asyncio.sleep(DOWN_SECONDS)
    for name in killed:
        await stack.start(name)
    return killed


async def login_limit(stack: ScaleStack) -> dict[str, Any]:
    """Failed logins from one address, alternating between replicas: how many got through
    before 429. With the counters shared, the per-IP cap holds across replicas."""
    cap = int(stack.env["EDGEWRIGHT_LOGIN_RATE_LIMIT_PER_MINUTE"])
    # An address of its own, so the benchmark's own login does not count.
    transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
    answered: list[int] = []
    async with httpx.AsyncClient(transport=transport, timeout=60) as http:
        urls = list(stack.api_urls.values())
        for n in range(2 * cap + 2):
            answer = await http.post(
                f"{urls[n % len(urls)]}/api/auth/login",
                json={"username": "admin", "password": "not-the-password"},
            )
            answered.append(answer.status_code)
    allowed = sum(1 for status in answered if status != 429)
    return {"cap": cap, "attempts": len(answered), "allowed": allowed, "honoured": allowed == cap}


async def run(shape: Shape, size: Size, *, kill: bool) -> dict[str, Any]:
    tag = f"s{uuid.uuid4().hex[:5]}"
    fleet = fleet_of(size, tag)
    nodes = [f"{tag}-rn-{n:04d}" for n in range(size.nodes)]
    async with scale_stack(shape) as stack:
        engine = create_engine(stack.database_url)
        sessions = session_factory(engine)
        configuration = k8s.Configuration()
        configuration.host = stack.sandbox_url
        configuration.connection_pool_maxsize = 16
        kube = k8s.ApiClient(configuration)
        try:
            return await _run(stack, sessions, kube, size, fleet, nodes, tag=tag, kill=kill)
        except Exception:
            # The stack's logs go with its temporary directory: show the API's now.
            for name in stack.api_urls:
                print(f"--- {name}\n{stack.processes.log_tail(name)}", file=sys.stderr)
            raise
        finally:
            kube.close()
            await engine.dispose()


async def _run(
    stack: ScaleStack,
    sessions: Sessions,
    kube: k8s.ApiClient,
    size: Size,
    fleet: dict[str, list[str]],
    nodes: list[str],
    *,
    tag: str,
    kill: bool,
) -> dict[str, Any]:
    await seed(sessions, kube, fleet=fleet, nodes=nodes)
    start_fleets(stack, fleet, tag)
    await all_online(sessions, [i for ids in fleet.values() for i in ids])
    token = await login(stack.api_urls["api-0"], stack.admin_password)
    api = Rotation(stack.api_urls, token=token)
    recorder = BusRecorder(
        port=stack.mqtt_port, credentials=stack.service_account, wanted=set(WATCHED.split(","))
    )
    await recorder.start()
    streams = {
        name: SseClient(url=url, token=token, events=WATCHED)
        for name, url in stack.api_urls.items()
    }
    for stream in streams.values():
        stream.start()
    async with asyncio.timeout(60):
        for stream in streams.values():
            await stream.subscribed.wait()
    reporter = WorkloadReporter(api_client=kube, interval=1.0)
    reporting = asyncio.create_task(reporter.run(lambda: ((n, True) for n in nodes)))
    targets = [(d, True) for d in fleet["ans"]] + [(d, False) for d in fleet["hang"]]
    progress = Progress()
    stack.processes.mark_cpu()
    start = time.perf_counter()
    try:
        join = asyncio.create_task(
            batch_join(api, progress, tag=tag, devices=size.devices, window=size.window)
        )
        sending = asyncio.create_task(
            commands(api, sessions, progress, tag=tag, targets=targets, count=size.commands)
        )
        image = "registry.example/app:1"
        rolling = asyncio.create_task(rollout(api, progress, tag=tag, image=image))
        killing = (
            asyncio.create_task(chaos(stack, sessions, progress, size, join)) if kill else None
        )
        await asyncio.gather(join, sending, rolling)
        killed = await killing if killing is not None else []
        total = time.perf_counter() - start
        cpu = stack.processes.cpu()
        await asyncio.sleep(2)  # the last events reach every stream
    finally:
        reporting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reporting
        for stream in streams.values():
            await stream.stop()
        await recorder.stop()
        await api.close()
    expected_commands = sending.result()
    rows = await checks.store_rows(sessions, tag=tag)
    objects = await asyncio.to_thread(checks.kube_objects, kube)
    joined = checks.joins(objects, rows, tag=tag, devices=size.devices)
    placed = checks.rollout(objects, tag=tag, nodes=size.nodes)
    commands_wrong = {
        command_id: rows.commands.get(command_id, "missing")
        for command_id, want in expected_commands.items()
        if rows.commands.get(command_id) != want
    }
    survivor = streams["api-0"]
    missing_events, extra_events = compare(recorder.events, survivor.events)
    rollout_done = progress.outcome["rollout"]["state"] == "completed"
    lost = (
        joined.lost
        + placed.lost
        + len(commands_wrong)
        + missing_events
        + (0 if rollout_done else 1)
    )
    return {
        "killed": killed,
        "lost": lost,
        "duplicated": joined.duplicated + placed.duplicated + extra_events,
        "orphaned": joined.orphaned + placed.orphaned,
        "join": {**progress.outcome["join"], **joined.details},
        "commands_by_state": _by_state(rows.commands, expected_commands),
        "commands_not_as_expected": commands_wrong,
        "rollout": {**progress.outcome["rollout"], **placed.details},
        "events": {
            "on_bus": len(recorder.events),
            "surviving_stream": len(survivor.events),
            "missing": missing_events,
            "extra": extra_events,
            "streams_cut": sorted(name for name, s in streams.items() if s.cut),
        },
        "killed_at": progress.outcome.get("killed_at"),
        "rate_limit_logins": await login_limit(stack),
        "requests_per_replica": dict(api.served),
        "rerouted_requests": api.rerouted,
        "retried_503": api.retried_unavailable,
        "seconds": {
            **{k: round(v, 1) for k, v in progress.seconds.items()},
            "total": round(total, 1),
        },
        "cpu_seconds": cpu,
        "store_bytes": await store_bytes(sessions),
        "temporal_db_bytes": temporal_bytes(stack.temporal_db),
        "broker_accounts": broker_state(stack.data_dir / DYNSEC_STATE_FILE),
        "histories": await history_sizes(
            stack.temporal_address,
            device=f"{tag}-dev-00000",
            commands=expected_commands,
            batch=f"{tag}-batch",
            rollout=progress.outcome["rollout"],
        ),
    }


def _by_state(found: dict[str, str], expected: dict[str, str]) -> dict[str, int]:
    states: dict[str, int] = {}
    for command_id in expected:
        state = found.get(command_id, "missing")
        states[state] = states.get(state, 0) + 1
    return states
