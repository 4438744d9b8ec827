"""Two API replicas on one Redis count one budget per caller (EDGEWRIGHT_RATE_LIMIT_STORAGE)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx
import pytest
from fastapi import FastAPI

from api.core.state import app_state
from api.main import create_app
from store.access.users import Role
from store.settings import Settings
from tests.api.access_helpers import set_rate_limit
from tests.api.helpers import bearer
from tests.support.redis_fixtures import redis_url

__all__ = ["redis_url"]


@pytest.fixture
async def replicas(
    settings: Settings, redis_url: str
) -> AsyncIterator[list[tuple[FastAPI, httpx.AsyncClient]]]:
    """Two apps on the same database and the same Redis, as two API pods would be."""
    shared = settings.model_copy(update={"rate_limit_storage": redis_url})
    async with AsyncExitStack() as stack:
        pairs = []
        for _ in range(2):
            app = create_app(shared)
            await stack.enter_async_context(app.router.lifespan_context(app))
            transport = httpx.ASGITransport(app=app)
            http = httpx.AsyncClient(transport=transport, base_url="http://testserver")
            pairs.append((app, await stack.enter_async_context(http)))
        await app_state(pairs[0][0]).rate_limiter.reset()
        yield pairs


async def test_one_budget_across_replicas(
    replicas: list[tuple[FastAPI, httpx.AsyncClient]], tokens: dict[Role, str]
) -> None:
    await set_rate_limit(replicas[0][0], 10)
    headers = bearer(tokens[Role.OPERATOR])
    remaining = []
    for turn in range(10):  # alternating, as a load balancer would
        _, http = replicas[turn % 2]
        response = await http.get("/api/auth/me", headers=headers)
        assert response.status_code == 200
        remaining.append(int(response.headers["x-ratelimit-remaining"]))

    assert remaining == list(range(9, -1, -1))
    for _, http in replicas:  # spent on either replica, refused on both
        assert (await http.get("/api/auth/me", headers=headers)).status_code == 429
    # Another caller still has its own whole budget.
    other = await replicas[1][1].get("/api/auth/me", headers=bearer(tokens[Role.VIEWER]))
    assert other.status_code == 200
    assert other.headers["x-ratelimit-remaining"] == "9"
