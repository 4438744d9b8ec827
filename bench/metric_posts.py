"""Metric POSTs under concurrency: `POST /api/v1/metrics/nodes/{id}` through the real app.

`python -m bench.metric_posts [--posts 2000] [--concurrency 50]` migrates a SQLite file in
a temporary directory, runs the app in this process (httpx's ASGI transport, no sockets)
and posts `--posts` samples from `--concurrency` clients with one node token, twice: with
the app's batcher as configured, then with a batcher of one sample per transaction (what
the route did before batching). Baseline: the same number of samples written by one
`record_samples` call in one transaction. Prints one JSON line.

Beside the rates, each phase's CPU time per POST (this process's, which runs the app,
the clients and SQLite: on a shared machine it moves far less with other load than the
rates do) and the batched phase's SELECTs per POST (what the request path reads).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import socket
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import event

from api.core.auth import issue_token
from api.core.state import app_state
from api.main import create_app
from api.monitoring.batcher import SampleBatcher, app_batcher, set_app_batcher
from store.access.users import Role, create_user
from store.migrate import upgrade_async
from store.models import utcnow
from store.monitoring.samples import Sample, record_samples
from store.monitoring.values import MetricValues
from store.settings import MAX_RATE_LIMIT_PER_MINUTE, Settings


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _admin(app: FastAPI) -> dict[str, str]:
    state = app_state(app)
    async with state.sessions() as session, session.begin():
        admin = await create_user(
            session, username="bench-admin", password=secrets.token_urlsafe(16), role=Role.ADMIN
        )
    return {"Authorization": f"Bearer {issue_token(settings=state.settings, user=admin).token}"}


async def _node(
    client: httpx.AsyncClient, admin: dict[str, str], *, name: str
) -> tuple[str, dict[str, str]]:
    """A registered node and its own token's headers."""
    node = await client.post(
        "/api/v1/nodes", json={"name": name, "address": "10.0.0.9"}, headers=admin
    )
    node.raise_for_status()
    node_id = str(node.json()["id"])
    issued = await client.post(
        "/api/v1/security/tokens", json={"node_id": node_id, "expiration": "24h"}, headers=admin
    )
    issued.raise_for_status()
    return node_id, {"Authorization": f"Bearer {issued.json()['token']}"}


async def _post_all(
    client: httpx.AsyncClient, node_id: str, headers: dict[str, str], *, posts: int, workers: int
) -> tuple[float, float]:
    """Posts per second and CPU ms per POST; each POST a distinct second, so every one is
    a new row."""
    start = utcnow().replace(microsecond=0) - timedelta(seconds=posts)
    queue = list(range(posts))

    async def worker() -> None:
        while queue:
            i = queue.pop()
            body = {"timestamp": (start + timedelta(seconds=i)).isoformat(), "cpu_usage": 40.0}
            answer = await client.post(
                f"/api/v1/metrics/nodes/{node_id}", json=body, headers=headers
            )
            answer.raise_for_status()

    began, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return posts / (time.perf_counter() - began), (time.process_time() - cpu) * 1000 / posts


def _count_selects(app: FastAPI) -> list[int]:
    """A counter of the SELECTs the app's engine runs from now on."""
    selects = [0]

    def note(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip()[:6].upper() == "SELECT":
            selects[0] += 1

    event.listen(app_state(app).engine.sync_engine, "before_cursor_execute", note)
    return selects


async def _bare(app: FastAPI, node_id: str, *, posts: int) -> tuple[float, float]:
    now = int(utcnow().timestamp()) - 3 * posts  # clear of the POSTed seconds
    samples = [
        Sample(node_id=node_id, ts=now + i, values=MetricValues(values={"cpu_usage": 40.0}))
        for i in range(posts)
    ]
    began, cpu = time.perf_counter(), time.process_time()
    async with app_state(app).sessions() as session, session.begin():
        await record_samples(session, samples=samples)
    return posts / (time.perf_counter() - began), (time.process_time() - cpu) * 1000 / posts


async def measure(*, posts: int, concurrency: int, directory: Path) -> dict[str, Any]:
    url = f"sqlite+aiosqlite:///{(directory / 'edgewright.db').as_posix()}"
    await upgrade_async(url)
    settings = Settings.model_validate(
        {
            "data_dir": directory,
            "database_url": url,
            "secret_key": secrets.token_urlsafe(48),
            "temporal_address": f"127.0.0.1:{_closed_port()}",
            # One node token posts every sample: the per-caller limit would measure itself.
            "rate_limit_per_minute": MAX_RATE_LIMIT_PER_MINUTE,
        }
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b") as client,
    ):
        admin = await _admin(app)
        node_id, headers = await _node(client, admin, name="bench-node-1")
        selects = _count_selects(app)
        batched, batched_cpu = await _post_all(
            client, node_id, headers, posts=posts, workers=concurrency
        )
        batched_selects = selects[0]
        flushes = app_batcher(app).flushes
        # One sample per transaction, as before batching; posted to a second node's rows.
        await app_batcher(app).stop()
        single = SampleBatcher(
            sessions=app_state(app).sessions,
            max_batch=1,
            max_wait_seconds=0,
            max_pending=settings.metrics_post_max_waiting,
        )
        single.start()
        set_app_batcher(app, single)
        other_id, other_headers = await _node(client, admin, name="bench-node-2")
        unbatched, unbatched_cpu = await _post_all(
            client, other_id, other_headers, posts=posts, workers=concurrency
        )
        bare, bare_cpu = await _bare(app, node_id, posts=posts)
    return {
        "backend": "sqlite",
        "posts": posts,
        "concurrency": concurrency,
        "batched_posts_per_s": round(batched),
        "batched_transactions": flushes,
        "batched_selects_per_post": round(batched_selects / posts, 2),
        "batched_cpu_ms_per_post": round(batched_cpu, 2),
        "unbatched_posts_per_s": round(unbatched),
        "unbatched_cpu_ms_per_post": round(unbatched_cpu, 2),
        "bare_one_transaction_samples_per_s": round(bare),
        "bare_cpu_ms_per_sample": round(bare_cpu, 3),
        "batched_ratio_to_unbatched": round(batched / unbatched, 2),
        "batched_ratio_to_bare": round(batched / bare, 4),
        "batched_cpu_ratio_to_bare": round(batched_cpu / bare_cpu, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.metric_posts", description=__doc__)
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-metric-posts-") as scratch:
        figures = asyncio.run(
            measure(posts=args.posts, concurrency=args.concurrency, directory=Path(scratch))
        )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
