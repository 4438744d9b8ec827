"""Concurrent metric POSTs share transactions, and are answered only once stored."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import text

from api.core.errors import ApiError
from api.core.state import app_state
from api.main import create_app
from api.monitoring.batcher import SampleBatcher, app_batcher
from store.access.users import Role
from store.models import utcnow
from store.monitoring.samples import Sample
from store.monitoring.values import MetricValues
from tests.api.devices.test_edge_nodes_api import edge_error, node_token, register
from tests.api.helpers import bearer, make_settings
from tests.api.monitoring.test_metrics_api import body_at

POSTS = 50


async def _post_many(
    client: httpx.AsyncClient, tokens: dict[Role, str]
) -> tuple[str, list[httpx.Response]]:
    admin = tokens[Role.ADMIN]
    node_id = (await register(client, admin))["id"]
    headers = bearer(await node_token(client, admin, node_id))
    now = utcnow().replace(microsecond=0)
    answers = await asyncio.gather(
        *(
            client.post(
                f"/api/v1/metrics/nodes/{node_id}",
                json=body_at(now - timedelta(seconds=i), cpu_usage=float(i)),
                headers=headers,
            )
            for i in range(POSTS)
        )
    )
    return node_id, list(answers)


async def _stored(app: FastAPI, table: str, node_id: str) -> int:
    async with app_state(app).engine.connect() as conn:
        found = await conn.scalar(
            text(f"SELECT COUNT(*) FROM {table} WHERE node_id = :n"),  # noqa: S608
            {"n": node_id},
        )
    return int(found or 0)


async def test_concurrent_posts_are_all_stored_in_fewer_transactions(
    app: FastAPI, client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    node_id, answers = await _post_many(client, tokens)
    assert [a.status_code for a in answers] == [200] * POSTS, answers[0].text
    assert await _stored(app, "metric_samples", node_id) == POSTS
    batcher = app_batcher(app)
    assert batcher.written == POSTS
    assert 1 <= batcher.flushes < POSTS


async def test_a_failing_store_fails_the_posts_of_its_batch(
    app: FastAPI, client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    # A real failure: the table is gone when the batch is written, after validation passed.
    async with app_state(app).engine.begin() as conn:
        await conn.execute(text("ALTER TABLE metric_samples RENAME TO metric_samples_away"))
    node_id, answers = await _post_many(client, tokens)
    for answer in answers:
        body = edge_error(answer, 503, "SERVICE_UNAVAILABLE")
        assert answer.headers["Retry-After"] == "1"
        assert "not stored" in body["message"]
    async with app_state(app).engine.begin() as conn:
        await conn.execute(text("ALTER TABLE metric_samples_away RENAME TO metric_samples"))
    assert await _stored(app, "metric_samples", node_id) == 0
    assert app_batcher(app).written == 0


async def test_a_full_queue_refuses_at_once_and_stop_writes_what_waits(app: FastAPI) -> None:
    # A wait longer than any test: only a full batch or stop() ends it.
    batcher = SampleBatcher(
        sessions=app_state(app).sessions, max_batch=100, max_wait_seconds=3600, max_pending=2
    )
    batcher.start()
    now = int(utcnow().timestamp())
    samples = [
        Sample(node_id="batcher-node", ts=now - i, values=MetricValues(values={"cpu_usage": 1.0}))
        for i in range(3)
    ]
    waiting = [asyncio.create_task(batcher.record(s)) for s in samples[:2]]
    await asyncio.sleep(0)  # both are queued
    with pytest.raises(ApiError) as refused:
        await batcher.record(samples[2])
    assert (refused.value.status_code, refused.value.headers) == (503, {"Retry-After": "1"})
    await batcher.stop()
    await asyncio.gather(*waiting)
    assert (batcher.flushes, batcher.written) == (1, 2)
    assert await _stored(app, "metric_samples", "batcher-node") == 2
    with pytest.raises(ApiError):
        await batcher.record(samples[2])


@pytest.mark.usefixtures("settings")  # copies the migrated store into tmp_path
async def test_the_batch_settings_reach_the_app_s_batcher(
    tmp_path: Path, tokens: dict[Role, str]
) -> None:
    # One sample per batch: every POST its own transaction, however many arrive together.
    one_each = make_settings(tmp_path, metrics_post_batch_samples=1)
    application = create_app(one_each)
    transport = httpx.ASGITransport(app=application)
    async with (
        application.router.lifespan_context(application),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        _, answers = await _post_many(client, tokens)
        assert [a.status_code for a in answers] == [200] * POSTS, answers[0].text
        batcher = app_batcher(application)
        assert (batcher.flushes, batcher.written) == (POSTS, POSTS)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("METRICS_POST_BATCH_SAMPLES", "0"),
        ("METRICS_POST_BATCH_SAMPLES", "10001"),
        ("METRICS_POST_BATCH_WAIT_SECONDS", "0"),
        ("METRICS_POST_BATCH_WAIT_SECONDS", "2"),
        ("METRICS_POST_MAX_WAITING", "-1"),
        ("METRICS_POST_MAX_WAITING", "499"),  # below a batch (500): no batch would fill
    ],
)
async def test_a_bad_batch_setting_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(f"EDGEWRIGHT_{name}", value)
    application = create_app()  # settings from the environment, read by the lifespan
    with pytest.raises(ValidationError, match=f"(?i){name}"):
        async with application.router.lifespan_context(application):
            pass
