"""The scale-out benchmark's clients: HTTP across API replicas, SSE, and the bus itself.

`Rotation` sends each request to the next replica in turn, as a Service does; a replica
that refuses the connection or drops it mid-answer is skipped and the request goes to
the next one (every request the benchmark repeats is idempotent by its business ID).
`SseClient` reads one replica's live stream; `BusRecorder` subscribes to the event bus
directly, the reference every stream is compared with.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections import Counter
from typing import Any

import httpx

from adapters.mqtt.client import AsyncMqttClient, MiscTicker
from adapters.mqtt.credentials import MqttCredentials
from workflows.contracts.live import EVENTS_TOPIC_PREFIX

# What a request that reached no replica, or lost its answer with one, raises.
UNREACHED = (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError)
# A stream may stay quiet for long: no read timeout (the API pings every few seconds).
STREAM_TIMEOUT = httpx.Timeout(30.0, read=None)


def event_key(event: dict[str, Any]) -> str:
    """One event, the same whichever way it came (stream or bus)."""
    return json.dumps(event, sort_keys=True, default=str)


class Rotation:
    def __init__(self, urls: dict[str, str], *, token: str) -> None:
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
        headers = {"Authorization": f"Bearer {token}"}
        self.clients = {
            name: httpx.AsyncClient(base_url=url, timeout=120, limits=limits, headers=headers)
            for name, url in urls.items()
        }
        self._next = itertools.cycle(list(self.clients))
        self.served: Counter[str] = Counter()
        self.rerouted = 0
        self.retried_unavailable = 0  # 503s with Retry-After, sent again as clients do

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        for _ in range(len(self.clients) * 20):
            name = next(self._next)
            try:
                answer = await self.clients[name].request(method, path, **kwargs)
            except UNREACHED:
                self.rerouted += 1
                await asyncio.sleep(0.05)
                continue
            self.served[name] += 1
            retry_after = answer.headers.get("retry-after")
            if answer.status_code == 503 and retry_after and retry_after.isdigit():
                # The store or Temporal was busy and nothing happened: send it again.
                self.retried_unavailable += 1
                await asyncio.sleep(min(int(retry_after), 5))
                continue
            return answer
        raise RuntimeError(f"no API replica answered {method} {path}")

    async def close(self) -> None:
        for client in self.clients.values():
            await client.aclose()


class SseClient:
    """One stream on one replica; `events` holds what it received, in order."""

    def __init__(self, *, url: str, token: str, events: str) -> None:
        self._url, self._token, self._filter = url, token, events
        self.events: list[dict[str, Any]] = []
        self.subscribed = asyncio.Event()
        self.cut = False  # the replica went away under it
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        headers = {"Authorization": f"Bearer {self._token}"}
        params = {"events": self._filter}
        path = "/api/kubeedge/monitor/stream"
        try:
            async with (
                httpx.AsyncClient(base_url=self._url, timeout=STREAM_TIMEOUT) as http,
                http.stream("GET", path, headers=headers, params=params) as answer,
            ):
                answer.raise_for_status()
                async for line in answer.aiter_lines():
                    if line.startswith(": subscribed"):
                        self.subscribed.set()
                    elif line.startswith("data:"):
                        self.events.append(json.loads(line.removeprefix("data:").strip()))
        except (*UNREACHED, httpx.ReadTimeout):
            self.cut = True

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class BusRecorder:
    """Every event on `edgewright/events/#` of the wanted types, batches unpacked as the
    API's feed unpacks them."""

    def __init__(self, *, port: int, credentials: MqttCredentials, wanted: set[str]) -> None:
        self.events: list[dict[str, Any]] = []
        self._wanted = wanted
        self._mqtt = AsyncMqttClient(
            host="127.0.0.1",
            port=port,
            client_id="scale-out-recorder",
            ticker=MiscTicker(),
            credentials=credentials,
        )
        self._subscribed = asyncio.Event()
        self._mqtt.on_connect = self._subscribe
        self._mqtt.on_message = self._message

    async def start(self) -> None:
        await self._mqtt.start()
        async with asyncio.timeout(30):
            await self._mqtt.connected.wait()
        # Give the subscription a moment to reach the broker before anything is emitted.
        await asyncio.sleep(0.5)

    def _subscribe(self) -> None:
        self._mqtt.subscribe([(f"{EVENTS_TOPIC_PREFIX}/#", 0)])

    def _message(self, message: Any) -> None:
        try:
            body = json.loads(message.payload)
        except ValueError:
            return
        batch = body.get("events") if isinstance(body, dict) else None
        for event in batch if isinstance(batch, list) else [body]:
            if isinstance(event, dict) and event.get("event") in self._wanted:
                self.events.append(event)

    async def stop(self) -> None:
        await self._mqtt.close()


def compare(reference: list[dict[str, Any]], seen: list[dict[str, Any]]) -> tuple[int, int]:
    """(missing, extra): events of the reference the stream lacks, and the stream's
    events beyond the reference's count of each."""
    want, got = Counter(map(event_key, reference)), Counter(map(event_key, seen))
    return sum((want - got).values()), sum((got - want).values())
