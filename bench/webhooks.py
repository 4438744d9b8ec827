"""Webhook deliveries per second: N events to three receivers, beside a bare POST loop.

`python -m bench.webhooks [--events 1000]` starts the Temporal dev server, a SQLite
store and a worker running only the webhook workflow and activities, and three aiohttp
receivers on loopback: fast, slow (2 s an answer) and flaky (500 for half the requests,
at random). It subscribes one webhook per receiver, emits N events through the worker's
emitter, and waits until every delivery has ended. It checks that each receiver
acknowledged every event exactly once (by `webhook-id`), then runs the baseline in the
same process: a bare httpx POST loop with the same concurrency, the same bodies, and
immediate retries against the flaky receiver. One JSON line: figures and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import sysconfig
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web
from sqlalchemy import func, select
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.webhooks.delivery import DeliveryActivities
from activities.webhooks.emitter import WebhookEmitter
from store import webhooks
from store.db import create_engine, session_factory
from store.migrate import upgrade_async
from store.models import WebhookDelivery
from store.sealing import seal
from store.settings import Settings
from workers.processes import free_port
from workflows.contracts.webhooks import DeliveryStatus, WebhookEvent
from workflows.webhooks.delivery import WebhookDeliveryWorkflow

CONCURRENCY = 100  # activities in flight in the worker, and POSTs in the baseline
SLOW_SECONDS = 2.0


class Receiver:
    def __init__(self, name: str) -> None:
        self.name = name
        self.acknowledged: Counter[str] = Counter()
        self.requests = 0

    async def answer(self, request: web.Request) -> web.Response:
        await request.read()
        self.requests += 1
        if self.name == "slow":
            await asyncio.sleep(SLOW_SECONDS)
        if self.name == "flaky" and random.random() < 0.5:
            return web.Response(status=500)
        self.acknowledged[request.headers.get("webhook-id", "")] += 1
        return web.Response(status=204)


async def serve(receivers: list[Receiver]) -> tuple[web.AppRunner, dict[str, str]]:
    app = web.Application()
    for receiver in receivers:
        app.router.add_post(f"/{receiver.name}", receiver.answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, {r.name: f"http://127.0.0.1:{port}/{r.name}" for r in receivers}


async def ended(settings: Settings, total: int) -> None:
    engine = create_engine(settings.sqlalchemy_url)
    sessions = session_factory(engine)
    final = (DeliveryStatus.DELIVERED.value, DeliveryStatus.DEAD.value)
    try:
        while True:
            async with sessions() as session:
                done = await session.scalar(
                    select(func.count())
                    .select_from(WebhookDelivery)
                    .where(WebhookDelivery.status.in_(final))
                )
            if (done or 0) >= total:
                return
            await asyncio.sleep(0.5)
    finally:
        await engine.dispose()


async def bare(urls: dict[str, str], bodies: list[bytes]) -> float:
    """The baseline: the same POSTs from a bounded loop, retrying 5xx at once."""
    limit = asyncio.Semaphore(CONCURRENCY)
    async with httpx.AsyncClient(
        timeout=10, limits=httpx.Limits(max_connections=CONCURRENCY)
    ) as http:

        async def post(url: str, body: bytes, msg_id: str) -> None:
            async with limit:
                while True:
                    answer = await http.post(url, content=body, headers={"webhook-id": msg_id})
                    if answer.status_code < 500:
                        return

        started = time.perf_counter()
        await asyncio.gather(
            *(
                post(url, body, f"bare-{name}-{index}")
                for name, url in urls.items()
                for index, body in enumerate(bodies)
            )
        )
        return time.perf_counter() - started


async def main(events: int) -> dict[str, Any]:
    receivers = [Receiver("fast"), Receiver("slow"), Receiver("flaky")]
    runner, urls = await serve(receivers)
    data_dir = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=str(Path(sysconfig.get_path("scripts")) / "temporal"),
    )
    settings = Settings(
        data_dir=data_dir,
        secret_key=secrets.token_urlsafe(48),
        task_queue="bench-webhooks",
        webhook_allow_private=True,
        webhook_retry_initial_seconds=0.2,
        webhook_retry_max_interval_seconds=2.0,
    )
    await upgrade_async(settings.sqlalchemy_url)
    engine = create_engine(settings.sqlalchemy_url)
    sessions = session_factory(engine)
    secret = secrets.token_urlsafe(24)
    async with sessions() as session, session.begin():
        for url in urls.values():
            await webhooks.create_webhook(
                session,
                url=url,
                events=[WebhookEvent.BACKUP_COMPLETED.value],
                secret_sealed=seal(settings, secret),
                description=None,
                created_by="bench",
            )
    emitter = WebhookEmitter(settings=settings, sessions=sessions, client=env.client)
    deliveries = DeliveryActivities(settings=settings, sessions=sessions, emitter=emitter)
    try:
        with ThreadPoolExecutor(max_workers=4) as executor:
            async with Worker(
                env.client,
                task_queue=settings.task_queue,
                workflows=[WebhookDeliveryWorkflow],
                activities=[deliveries.deliver_webhook, deliveries.finish_webhook_delivery],
                activity_executor=executor,
                max_concurrent_activities=CONCURRENCY,
            ):
                started = time.perf_counter()
                for index in range(events):
                    await emitter.emit(
                        WebhookEvent.BACKUP_COMPLETED,
                        key=f"bench-{index}",
                        data={"backup_id": f"bench-{index}", "status": "completed"},
                    )
                await ended(settings, events * len(receivers))
                elapsed = time.perf_counter() - started
        async with sessions() as session:
            statuses = Counter((await session.scalars(select(WebhookDelivery.status))).all())
        once = all(
            len(r.acknowledged) == events and max(r.acknowledged.values()) == 1 for r in receivers
        )
        bodies = [json.dumps({"event": "backup_completed", "n": i}).encode() for i in range(events)]
        baseline = await bare(urls, bodies)
    finally:
        await engine.dispose()
        await env.shutdown()
        await runner.cleanup()
    total = events * len(receivers)
    return {
        "bench": "webhooks",
        "events": events,
        "receivers": [r.name for r in receivers],
        "deliveries": total,
        "statuses": dict(statuses),
        "each_event_acknowledged_once_per_receiver": once,
        "flaky_requests": next(r.requests for r in receivers if r.name == "flaky"),
        "seconds": round(elapsed, 2),
        "deliveries_per_second": round(total / elapsed, 1),
        "bare_seconds": round(baseline, 2),
        "bare_posts_per_second": round(total / baseline, 1),
        "ratio_to_bare": round((total / elapsed) / (total / baseline), 3),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1000)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.events))), flush=True)
