from __future__ import annotations

import time
from collections.abc import Sequence

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from store.access.users import Role
from store.settings import MIN_RATE_LIMIT_PER_MINUTE, Settings
from tests.api.access_helpers import (
    FakeClock,
    api_key_header,
    new_api_key,
    set_rate_limit,
    use_fake_clock,
)
from tests.api.guarded_routes import probe
from tests.api.helpers import ApiUser, bearer, login

HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")


@pytest.fixture
def extra_routers() -> Sequence[APIRouter]:
    return (probe,)


@pytest.fixture
def clock(app: FastAPI) -> FakeClock:
    return use_fake_clock(app)


def figures(response: httpx.Response) -> tuple[int, int, int]:
    limit, remaining, reset = (int(response.headers[name]) for name in HEADERS)
    return limit, remaining, reset


async def test_every_counted_answer_carries_the_headers(
    client: httpx.AsyncClient, tokens: dict[Role, str], settings: Settings, clock: FakeClock
) -> None:
    ok = await client.get("/api/auth/me", headers=bearer(tokens[Role.VIEWER]))
    limit, remaining, reset = figures(ok)
    assert limit == settings.rate_limit_per_minute
    assert remaining == limit - 1
    assert time.time() - 1 <= reset <= time.time() + 61

    # Errors after authentication count and say so too.
    forbidden = await client.get("/api/auth/users", headers=bearer(tokens[Role.VIEWER]))
    assert forbidden.status_code == 403
    assert figures(forbidden)[1] == limit - 2
    missing = await client.get("/api/v1/_probe/nothing", headers=bearer(tokens[Role.VIEWER]))
    assert missing.status_code == 404  # no route: nobody authenticated, nothing counted
    assert "x-ratelimit-limit" not in missing.headers


async def test_public_pages_are_not_limited(
    app: FastAPI, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    await set_rate_limit(app, MIN_RATE_LIMIT_PER_MINUTE)
    for _ in range(3):  # 12 requests, more than the limit
        for path in ("/api/health", "/api/v1/health", "/docs", "/api/kubeedge/openapi.json"):
            response = await client.get(path)
            assert response.status_code in (200, 503), path  # health may report unhealthy
            assert "x-ratelimit-limit" not in response.headers


@pytest.mark.parametrize(
    ("path", "envelope"),
    [
        ("/api/kubeedge/_probe/viewer", {"status": "error", "code": "API-006"}),
        ("/api/v1/_probe/admin", {"error": True, "code": "RATE_LIMITED"}),
    ],
)
async def test_over_the_limit_is_429_in_the_contracts_envelope(
    app: FastAPI,
    client: httpx.AsyncClient,
    tokens: dict[Role, str],
    clock: FakeClock,
    path: str,
    envelope: dict[str, object],
) -> None:
    await set_rate_limit(app, 10)
    headers = bearer(tokens[Role.ADMIN])
    remaining = [figures(await client.get(path, headers=headers))[1] for _ in range(10)]
    assert remaining == list(range(9, -1, -1))

    refused = await client.get(path, headers=headers)

    assert refused.status_code == 429
    body = refused.json()
    assert {key: body[key] for key in envelope} == envelope
    assert body["details"] == {"limit": 10, "window_seconds": 60}
    assert figures(refused)[:2] == (10, 0)
    assert 1 <= int(refused.headers["retry-after"]) <= 60


async def test_each_caller_has_its_own_budget(
    app: FastAPI, client: httpx.AsyncClient, tokens: dict[Role, str], clock: FakeClock
) -> None:
    key = (await new_api_key(client, tokens[Role.ADMIN], role=Role.OPERATOR))["key"]
    await set_rate_limit(app, 10)
    clock.advance(5)
    operator = bearer(tokens[Role.OPERATOR])
    for _ in range(10):
        assert (await client.get("/api/auth/me", headers=operator)).status_code == 200
    assert (await client.get("/api/auth/me", headers=operator)).status_code == 429

    # An API key and another user are counted apart from the operator.
    assert (await client.get("/api/auth/me", headers=api_key_header(key))).status_code == 200
    other = await client.get("/api/auth/me", headers=bearer(tokens[Role.VIEWER]))
    assert other.status_code == 200
    assert figures(other)[1] == 9


async def test_a_changed_limit_applies_without_restart(
    app: FastAPI, client: httpx.AsyncClient, tokens: dict[Role, str], clock: FakeClock
) -> None:
    headers = bearer(tokens[Role.OPERATOR])
    for _ in range(8):
        assert figures(await client.get("/api/auth/me", headers=headers))[0] == 600

    await set_rate_limit(app, 10)
    cached = await client.get("/api/auth/me", headers=headers)
    assert figures(cached)[0] == 600  # within the cache's few seconds
    clock.advance(5)
    lowered = await client.get("/api/auth/me", headers=headers)
    # The requests already made count against the new, lower limit at once.
    assert figures(lowered)[:2] == (10, 0)
    assert (await client.get("/api/auth/me", headers=headers)).status_code == 429

    await set_rate_limit(app, 100)
    clock.advance(5)
    raised = await client.get("/api/auth/me", headers=headers)
    assert raised.status_code == 200
    assert figures(raised)[:2] == (100, 89)


async def test_login_is_limited_per_client_ip(
    app: FastAPI, users: dict[Role, ApiUser], settings: Settings, clock: FakeClock
) -> None:
    await set_rate_limit(app, 10)
    viewer = users[Role.VIEWER]

    async def attempt(ip: str, password: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(ip, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            return await login(http, viewer.username, password)

    first = await attempt("10.0.0.1", "wrong-guess")
    assert first.status_code == 401
    assert figures(first)[:2] == (10, 9)
    for guess in range(9):
        assert (await attempt("10.0.0.1", f"another-guess-{guess}")).status_code == 401
    blocked = await attempt("10.0.0.1", viewer.password)
    assert blocked.status_code == 429
    assert blocked.json()["code"] == "API-006"
    assert "retry-after" in blocked.headers

    elsewhere = await attempt("10.0.0.2", viewer.password)
    assert elsewhere.status_code == 200


async def test_login_has_its_own_lower_cap(
    client: httpx.AsyncClient, users: dict[Role, ApiUser], settings: Settings, clock: FakeClock
) -> None:
    viewer = users[Role.VIEWER]
    response = await login(client, viewer.username, viewer.password)
    assert figures(response)[0] == settings.login_rate_limit_per_minute < 600
