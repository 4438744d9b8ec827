"""A fault-injecting HTTP proxy to put in front of the Kubernetes sandbox.

It forwards every call and, on the way, answers a share of them with a 5xx, delays them,
or refuses chosen calls for good (a 422, say). Each decision is drawn from a generator
seeded with (seed, method, path, how many times this method and path were seen), not from
one shared stream: the worker's threads call in whatever order they are scheduled, and a
shared stream would fail different calls on every run. Keyed this way, the same calls
fail on every run, whatever the interleaving.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

from tests.support.helpers import free_port

# Hop-by-hop headers, and those aiohttp recomputes for the body it sends. Bodies pass
# through as they are (auto_decompress=False), so Content-Encoding stays true.
_DROPPED = frozenset({"host", "content-length", "transfer-encoding", "connection", "keep-alive"})
SESSION = web.AppKey("session", aiohttp.ClientSession)


@dataclass(frozen=True)
class Refusal:
    """Answer `status` to every `method` whose path fully matches `path`."""

    method: str
    path: str
    status: int = 422
    reason: str = "Invalid"

    def matches(self, method: str, path: str) -> bool:
        return method == self.method and re.fullmatch(self.path, path) is not None


@dataclass
class Faults:
    """What to inject; the counters say what was injected."""

    seed: int
    error_share: float = 0.0  # of calls answered with a 503 instead of being forwarded
    latency: float = 0.0  # seconds, at most, added to every call (seeded, per call)
    refusals: list[Refusal] = field(default_factory=list)
    seen: Counter[str] = field(default_factory=Counter)
    injected_errors: int = 0
    refused: Counter[Refusal] = field(default_factory=Counter)
    forwarded: int = 0

    def draw(self, method: str, path: str) -> random.Random:
        key = f"{method} {path}"
        self.seen[key] += 1
        return random.Random(f"{self.seed}|{key}|{self.seen[key]}")


def _status_body(status: int, reason: str, message: str) -> bytes:
    body = {"kind": "Status", "apiVersion": "v1", "status": "Failure"}
    body |= {"reason": reason, "message": message, "code": status}
    return json.dumps(body).encode()


class FaultProxy:
    def __init__(self, *, upstream: str, faults: Faults) -> None:
        self.upstream = upstream.rstrip("/")
        self.faults = faults
        self.url = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        faults, method, path = self.faults, request.method, request.path
        draw = faults.draw(method, path)
        if faults.latency:
            await asyncio.sleep(draw.uniform(0, faults.latency))
        for refusal in faults.refusals:
            if refusal.matches(method, path):
                faults.refused[refusal] += 1
                body = _status_body(refusal.status, refusal.reason, "refused by the fault proxy")
                return web.Response(
                    status=refusal.status, body=body, content_type="application/json"
                )
        if draw.random() < faults.error_share:
            faults.injected_errors += 1
            body = _status_body(503, "ServiceUnavailable", "injected by the fault proxy")
            return web.Response(status=503, body=body, content_type="application/json")
        faults.forwarded += 1
        return await self._forward(request)

    async def _forward(self, request: web.Request) -> web.Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _DROPPED}
        session = request.app[SESSION]
        async with session.request(
            request.method,
            f"{self.upstream}{request.rel_url}",
            headers=headers,
            data=await request.read(),
            allow_redirects=False,
        ) as answer:
            body = await answer.read()
            kept = {k: v for k, v in answer.headers.items() if k.lower() not in _DROPPED}
            return web.Response(status=answer.status, body=body, headers=kept)


@asynccontextmanager
async def fault_proxy(*, upstream: str, faults: Faults) -> AsyncIterator[FaultProxy]:
    """Serve a FaultProxy for `upstream` on a free loopback port, in this event loop."""
    proxy = FaultProxy(upstream=upstream, faults=faults)
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", proxy.handle)
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        app[SESSION] = session
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        proxy.url = f"http://127.0.0.1:{port}"
        try:
            yield proxy
        finally:
            await runner.cleanup()
