"""Command round trip through the API, beside a bare MQTT request/reply on the same broker.

`python -m bench.command_latency [--samples 200] [--concurrency 50]` brings up the stack
with the bridge and a simulated fleet (bench._command_stack), then measures, for one
command at a time and for `concurrency` at once:
- api: `POST /api/kubeedge/device/{id}/command?wait=true` → CommandWorkflow publishes →
  the simulated device answers → the bridge signals the run → the HTTP answer;
- mqtt: a QoS 1 request on one topic answered by a QoS 1 reply on another, between two
  TCP_NODELAY clients on the same broker, with nothing in between.
Prints one JSON line: p50/p99 in ms for each, commands/s at the concurrency, and ratios.
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

import paho.mqtt.client as mqtt

from adapters.mqtt.client import AsyncMqttClient, MiscTicker
from adapters.mqtt.credentials import MqttCredentials
from bench._command_stack import CommandBench, command_stack
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


def api_command(stack: CommandBench) -> One:
    async def one(index: int) -> None:
        device_id = stack.device_ids[index % len(stack.device_ids)]
        answer = await stack.api.post(
            f"/api/kubeedge/device/{device_id}/command?wait=true",
            json={"command": "ping", "timeout": 30},
        )
        body = answer.json()
        if answer.status_code != 200 or body.get("command_status") != "completed":
            raise RuntimeError(f"command {index} answered {answer.status_code}: {answer.text}")

    return one


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


async def main(samples: int, concurrency: int) -> dict[str, object]:
    async with command_stack(devices=concurrency, answer_delay=0.0) as stack:
        one = api_command(stack)
        for index in range(10):  # warm up: connections, caches, the first workflow tasks
            await one(index)
        api_1 = await sequential(samples, one)
        before = {name: cpu_seconds(pid) for name, pid in stack.pids.items()}
        api_n = await concurrent(samples * 2, concurrency, one)
        # CPU per command in each process, under the concurrent load (docs/scaling.md).
        cpu_per_command_ms = {
            name: round(seconds / (samples * 2) * 1000, 2)
            for name, seconds in cpu_split(stack.pids, before).items()
        }
        async with BareRequestReply(port=stack.mqtt_port, credentials=stack.credentials) as bare:
            for index in range(10):
                await bare.one(index)
            mqtt_1 = await sequential(samples, bare.one)
            mqtt_n = await concurrent(samples * 2, concurrency, bare.one)
    return {
        "bench": "command_latency",
        "samples": samples,
        "concurrency": concurrency,
        "api_1": api_1,
        f"api_{concurrency}": api_n,
        "mqtt_1": mqtt_1,
        f"mqtt_{concurrency}": mqtt_n,
        "ratio_p50_1": round(api_1["p50_ms"] / mqtt_1["p50_ms"], 1),
        f"ratio_p50_{concurrency}": round(api_n["p50_ms"] / mqtt_n["p50_ms"], 1),
        "cpu_ms_per_command": cpu_per_command_ms,
        "cpus": os.cpu_count(),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.samples, args.concurrency))), flush=True)
    # temporalio can abort at interpreter exit after all work is done (sdk-python#300).
    os._exit(0)
