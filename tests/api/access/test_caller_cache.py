"""A login token's store check reused for EDGEWRIGHT_AUTH_CACHE_SECONDS: a revocation
through this replica applies at once, one made elsewhere (straight in the store, as
another replica or the CLI would) within the TTL. Time is a fake clock, never a sleep."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from sqlalchemy import update

from api.core.caller_cache import CallerCache
from api.core.state import app_sessions, app_state, set_app_state
from store.access.users import Role
from store.models import User
from tests.api.guarded_routes import probe
from tests.api.helpers import ApiUser, bearer, login

ME = "/api/kubeedge/_probe/me"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def extra_routers() -> Sequence[APIRouter]:
    return (probe,)


@pytest.fixture
def clock(app: FastAPI) -> FakeClock:
    fake = FakeClock()
    state = app_state(app)
    set_app_state(app, dataclasses.replace(state, callers=CallerCache(ttl_seconds=2, clock=fake)))
    return fake


async def test_a_user_disabled_elsewhere_is_refused_once_the_ttl_passes(
    app: FastAPI, client: httpx.AsyncClient, clock: FakeClock,
    users: dict[Role, ApiUser], tokens: dict[Role, str],
) -> None:  # fmt: skip
    token = bearer(tokens[Role.VIEWER])
    assert (await client.get(ME, headers=token)).status_code == 200
    async with app_sessions(app)() as session, session.begin():
        await session.execute(
            update(User).where(User.id == users[Role.VIEWER].id).values(disabled=True)
        )

    clock.now += 1.9  # within the TTL the store's last word stands
    assert (await client.get(ME, headers=token)).status_code == 200
    clock.now += 0.1
    refused = await client.get(ME, headers=token)
    assert refused.status_code == 401
    assert "disabled" in refused.json()["message"]


async def test_a_logout_here_applies_at_once(
    client: httpx.AsyncClient, clock: FakeClock, users: dict[Role, ApiUser]
) -> None:
    viewer = users[Role.VIEWER]
    first = (await login(client, viewer.username, viewer.password)).json()["token"]
    second = (await login(client, viewer.username, viewer.password)).json()["token"]
    for token in (first, second):  # both checked against the store and remembered
        assert (await client.get(ME, headers=bearer(token))).status_code == 200

    assert (await client.post("/api/auth/logout", headers=bearer(first))).status_code == 200

    refused = await client.get(ME, headers=bearer(first))  # the clock has not moved
    assert refused.status_code == 401
    assert "revoked" in refused.json()["message"]
    assert (await client.get(ME, headers=bearer(second))).status_code == 200


async def test_a_user_deleted_here_is_refused_at_once(
    client: httpx.AsyncClient, clock: FakeClock, tokens: dict[Role, str],
    users: dict[Role, ApiUser],
) -> None:  # fmt: skip
    operator = bearer(tokens[Role.OPERATOR])
    assert (await client.get(ME, headers=operator)).status_code == 200
    admin = bearer(tokens[Role.ADMIN])
    deleted = await client.delete(f"/api/auth/users/{users[Role.OPERATOR].id}", headers=admin)
    assert deleted.status_code == 200
    assert (await client.get(ME, headers=operator)).status_code == 401


def test_a_check_begun_before_a_clear_is_not_kept() -> None:
    clock = FakeClock()
    cache = CallerCache(ttl_seconds=2, clock=clock)
    principal = object()
    key = ("uid", "jti", "name")
    began = cache.generation
    cache.clear()  # a logout landed while the store was being read
    cache.put(key, principal, generation=began)  # type: ignore[arg-type]
    assert cache.get(key) is None
    cache.put(key, principal, generation=cache.generation)  # type: ignore[arg-type]
    assert cache.get(key) is principal
    clock.now += 2
    assert cache.get(key) is None


def test_a_zero_ttl_keeps_nothing() -> None:
    cache = CallerCache(ttl_seconds=0)
    cache.put(("u", "j", "n"), object(), generation=cache.generation)  # type: ignore[arg-type]
    assert cache.get(("u", "j", "n")) is None
