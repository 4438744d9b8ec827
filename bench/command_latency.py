"""Command round trip through the API, beside a bare Temporal workflow and a bare MQTT
request/reply, all on the same servers in the same run.

`python -m bench.command_latency [--samples 200] [--concurrency 50] [--profile DIR]` brings
up the stack with the bridge and a simulated fleet (bench._command_stack), then measures,
for one command at a time and for `concurrency` at once:
- api: `POST /api/kubeedge/device/{id}/command?wait=true` → CommandWorkflow publishes →
  the simulated device answers → the bridge signals the run → the HTTP answer (a 503
  retried after its Retry-After under the same command_id, counted in
  `api_retries_after_503`);
- bare_workflow: a one-activity workflow (bench._bare) started and awaited by one client
  on the same Temporal server, its worker in this process: what any workflow costs;
- mqtt: a QoS 1 request on one topic answered by a QoS 1 reply on another, between two
  TCP_NODELAY clients on the same broker, with nothing in between.
Prints one JSON line: p50/p99 in ms for each, commands/s at the concurrency, ratios to the
bare workflow (`ratio_*_vs_bare_workflow`) and to bare MQTT, and the peak memory of the
worker, bridge and API processes. CPU per command in each process under the concurrent
load (`cpu_ms_per_command`), and per bare workflow (`cpu_ms_per_bare_workflow_N`: the
Temporal server, and this process, which is the bare workflow's worker and client): on a
busy machine the throughput ratio follows the ratio of the two totals. With
`--profile DIR`, py-spy records the worker, the API and the bridge during the api phases;
with `--logs DIR`, the processes' logs are kept there (an unexpected answer aborts the run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import paho.mqtt.client as mqtt
from temporalio.client import Client
from temporalio.worker import Worker

from adapters.mqtt.client import AsyncMqttClient, MiscTicker
from adapters.mqtt.credentials import MqttCredentials
from bench._bare import BareWorkflow, noop
from bench._command_stack import CommandBench, command_stack
from bench._profile import profiled, status_mb
from bench._stack import cpu_seconds, cpu_split

One = Callable[[int], Awaitable[None]]


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(latencies: list[float], seconds: float | None = None) -> dict[str, float]:
    figures = {
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
    }
    if seconds is not None:
        figures["per_second"] = round(len(latencies) / seconds, 1)
    return figures


async def timed(one: One, index: int, into: list[float]) -> None:
    start = time.perf_counter()
    await one(index)
    into.append((time.perf_counter() - start) * 1000)


async def sequential(samples: int, one: One) -> dict[str, float]:
    latencies: list[float] = []
    for index in range(samples):
        await timed(one, index, latencies)
    return summary(latencies)


async def concurrent(samples: int, concurrency: int, one: One) -> dict[str, float]:
    """`concurrency` clients, each sending its share of `samples` back to back."""
    latencies: list[float] = []

    async def client(offset: int) -> None:
        for index in range(offset, samples, concurrency):
            await timed(one, index, latencies)

    start = time.perf_counter()
    await asyncio.gather(*(client(offset) for offset in range(concurrency)))
    return summary(latencies, time.perf_counter() - start)


# A 503 is retried after its Retry-After under the same command_id, as the contracts'
# clients do: on a busy machine a run's workflow task may outlive its timeout, and the
# run refuses the update until its retry, which took over 15 s at a load average of 25.
# The retries' waits count in the latency.
RETRIES_503 = 24


def api_command(stack: CommandBench, retried: list[str]) -> One:
    """One command with wait=true; `retried` collects the IDs of commands retried on a 503."""

    async def one(index: int) -> None:
        device_id = stack.device_ids[index % len(stack.device_ids)]
        command_id = f"bench-{uuid.uuid4().hex}"
        body = {"command": "ping", "timeout": 30, "command_id": command_id}
        for _ in range(RETRIES_503):
            answer = await stack.api.post(
                f"/api/kubeedge/device/{device_id}/command?wait=true", json=body
            )
            if answer.status_code != 503:
                break
            retried.append(command_id)
            await asyncio.sleep(float(answer.headers.get("Retry-After", "1")))
        result = answer.json()
        if answer.status_code != 200 or result.get("command_status") != "completed":
            raise RuntimeError(f"command {index} answered {answer.status_code}: {answer.text}")

    return one


@asynccontextmanager
async def bare_workflow(address: str) -> AsyncIterator[One]:
    """One bare workflow run per call: started and awaited by one client, one activity."""
    client = await Client.connect(address)
    queue = f"bare-{uuid.uuid4().hex[:6]}"

    async def one(index: int) -> None:
        await client.execute_workflow(
            BareWorkflow.run, str(index), id=f"{queue}-{index}", task_queue=queue
        )

    async with Worker(
        client,
        task_queue=queue,
        workflows=[BareWorkflow],
        activities=[noop],
        max_concurrent_workflow_tasks=200,
        max_concurrent_activities=200,
    ):
        yield one


# Under edgewright/, where the services' account may publish and subscribe.
BARE = "edgewright/bench/bare"


class BareRequestReply:
    """Two plain MQTT clients: a requester and a responder that echoes on a reply topic."""

    def __init__(self, *, port: int, credentials: MqttCredentials) -> None:
        self._port = port
        self._credentials = credentials
        self._ticker = MiscTicker()
        self._pending: dict[str, asyncio.Future[None]] = {}
        self._run = uuid.uuid4().hex[:6]

    async def __aenter__(self) -> BareRequestReply:
        self.requester, self.responder = (
            AsyncMqttClient(
                host="127.0.0.1",
                port=self._port,
                client_id=f"{role}-{self._run}",
                ticker=self._ticker,
                credentials=self._credentials,
            )
            for role in ("req", "rep")
        )
        self.requester.on_connect = lambda: self.requester.subscribe(
            [(f"{BARE}/{self._run}/rep/+", 1)]
        )
        self.responder.on_connect = lambda: self.responder.subscribe(
            [(f"{BARE}/{self._run}/req/+", 1)]
        )
        self.requester.on_message = self._replied
        self.responder.on_message = self._requested
        for client in (self.requester, self.responder):
            await client.start()
            async with asyncio.timeout(10):
                await client.connected.wait()
        await asyncio.sleep(0.2)  # let the SUBACKs land
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.requester.close()
        await self.responder.close()

    def _requested(self, message: mqtt.MQTTMessage) -> None:
        key = message.topic.rsplit("/", 1)[1]
        self.responder.publish(f"{BARE}/{self._run}/rep/{key}", bytes(message.payload), qos=1)

    def _replied(self, message: mqtt.MQTTMessage) -> None:
        future = self._pending.pop(message.topic.rsplit("/", 1)[1], None)
        if future is not None and not future.done():
            future.set_result(None)

    async def one(self, index: int) -> None:
        key = uuid.uuid4().hex
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        payload = json.dumps({"command_id": key, "command": "ping"})
        self.requester.publish(f"{BARE}/{self._run}/req/{key}", payload, qos=1)
        async with asyncio.timeout(30):
            await future


def _ratio(value: float, base: float, digits: int = 2) -> float:
    return round(value / base, digits)


async def main(
    samples: int, concurrency: int, profile: Path | None, logs: Path | None = None
) -> dict[str, object]:
    async with command_stack(devices=concurrency, answer_delay=0.0, logs=logs) as stack:
        retried: list[str] = []
        one = api_command(stack, retried)
        for index in range(10):  # warm up: connections, caches, the first workflow tasks
            await one(index)
        async with AsyncExitStack() as spies:
            for name in ("worker", "api", "bridge"):
                spies.enter_context(
                    profiled(stack.pids[name], into=profile, name=f"{name}-commands")
                )
            api_1 = await sequential(samples, one)
            before = {name: cpu_seconds(pid) for name, pid in stack.pids.items()}
            api_n = await concurrent(samples * 2, concurrency, one)
            # CPU per command in each process, under the concurrent load (docs/scaling.md).
            cpu_per_command_ms = {
                name: round(seconds / (samples * 2) * 1000, 2)
                for name, seconds in cpu_split(stack.pids, before).items()
            }
        memory = {name: status_mb(pid, "VmHWM") for name, pid in stack.pids.items()}
        async with bare_workflow(stack.temporal_address) as bare_one:
            for index in range(10):
                await bare_one(-1 - index)
            wf_1 = await sequential(samples, bare_one)
            bare_pids = {"temporal": stack.pids["temporal"], "bench": os.getpid()}
            before = {name: cpu_seconds(pid) for name, pid in bare_pids.items()}
            wf_n = await concurrent(samples * 2, concurrency, lambda i: bare_one(samples + i))
            # The bare workflow's worker and client are this process: their CPU beside the
            # server's is what a bare workflow costs, to set against cpu_ms_per_command.
            cpu_per_bare_ms = {
                name: round(seconds / (samples * 2) * 1000, 2)
                for name, seconds in cpu_split(bare_pids, before).items()
            }
        async with BareRequestReply(port=stack.mqtt_port, credentials=stack.credentials) as bare:
            for index in range(10):
                await bare.one(index)
            mqtt_1 = await sequential(samples, bare.one)
            mqtt_n = await concurrent(samples * 2, concurrency, bare.one)
    n = concurrency
    return {
        "bench": "command_latency",
        "samples": samples,
        "concurrency": n,
        "api_1": api_1,
        f"api_{n}": api_n,
        "bare_workflow_1": wf_1,
        f"bare_workflow_{n}": wf_n,
        "mqtt_1": mqtt_1,
        f"mqtt_{n}": mqtt_n,
        "ratio_p50_vs_bare_workflow": _ratio(api_1["p50_ms"], wf_1["p50_ms"]),
        f"ratio_p50_{n}_vs_bare_workflow": _ratio(api_n["p50_ms"], wf_n["p50_ms"]),
        f"ratio_p99_{n}_vs_bare_workflow": _ratio(api_n["p99_ms"], wf_n["p99_ms"]),
        f"ratio_throughput_{n}_vs_bare_workflow": _ratio(
            api_n["per_second"], wf_n["per_second"], 3
        ),
        "ratio_p50_1": round(api_1["p50_ms"] / mqtt_1["p50_ms"], 1),
        f"ratio_p50_{n}": round(api_n["p50_ms"] / mqtt_n["p50_ms"], 1),
        "cpu_ms_per_command": cpu_per_command_ms,
        "api_retries_after_503": len(retried),
        f"cpu_ms_per_bare_workflow_{n}": cpu_per_bare_ms,
        # VmHWM after the api phases: the most each process held while commands ran.
        "peak_rss_mb": memory,
        "cpus": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--profile", type=Path, default=None, help="py-spy profiles into DIR")
    parser.add_argument("--logs", type=Path, default=None, help="keep the processes' logs in DIR")
    args = parser.parse_args()
    figures = asyncio.run(main(args.samples, args.concurrency, args.profile, args.logs))
    print(json.dumps(figures), flush=True)
    # temporalio can abort at interpreter exit after all work is done (sdk-python#300).
    os._exit(0)
