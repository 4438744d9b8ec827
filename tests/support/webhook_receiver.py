"""A real HTTP webhook receiver on loopback (aiohttp), answering from a script.

async with webhook_receiver(statuses=[503]) as receiver:  # 503 once, then 200
    ...receiver.url, receiver.calls
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web

from tests.support.helpers import eventually, free_port


@dataclass(frozen=True)
class Call:
    body: bytes
    headers: dict[str, str]


@dataclass
class Receiver:
    url: str
    statuses: list[int]  # answered in turn; 200 once they are used up
    calls: list[Call] = field(default_factory=list)
    refusal_headers: dict[str, str] = field(default_factory=dict)  # sent with non-2xx

    async def answer(self, request: web.Request) -> web.Response:
        self.calls.append(Call(await request.read(), dict(request.headers)))
        status = self.statuses.pop(0) if self.statuses else 200
        headers = self.refusal_headers if status >= 300 else {}
        return web.Response(status=status, text=f"answered {status} " + "x" * 2000, headers=headers)

    async def called(self, times: int) -> list[Call]:
        async def enough() -> list[Call] | None:
            return self.calls if len(self.calls) >= times else None

        return await eventually(enough)


@asynccontextmanager
async def webhook_receiver(statuses: Sequence[int] = ()) -> AsyncIterator[Receiver]:
    receiver = Receiver(url="", statuses=list(statuses))
    app = web.Application()
    app.router.add_post("/hook", receiver.answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", free_port())
    await site.start()
    receiver.url = f"http://{site.name.removeprefix('http://')}/hook"
    try:
        yield receiver
    finally:
        await runner.cleanup()
