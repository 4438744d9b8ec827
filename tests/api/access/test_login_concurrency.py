"""Password hashing off the event loop, and a bound on logins hashing at once.

A stand-in hasher holds every hash until the test lets it go, so what runs meanwhile is
decided by events, never by how long a hash takes.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.core.state import app_state
from store.access import users as users_store
from store.access.users import Role
from store.settings import Settings
from tests.api.helpers import ApiUser, bearer, login
from tests.support.helpers import eventually

# Only breaks a deadlock when hashing blocks the loop (the test then fails on the order).
_DEADLOCK_BREAKER_SECONDS = 30


class HeldHasher:
    """Wraps the real hasher; every verify waits in its thread until `release`."""

    def __init__(self, real: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._real = real
        self._loop = loop
        self.started = asyncio.Event()
        self.release = threading.Event()
        self.events: list[str] = []

    def _hold(self) -> None:
        self._loop.call_soon_threadsafe(self.started.set)
        self.release.wait(_DEADLOCK_BREAKER_SECONDS)
        self.events.append("hash finished")

    def verify(self, password: str, hash: str) -> bool:
        self._hold()
        result: bool = self._real.verify(password, hash)
        return result

    def verify_and_update(self, password: str, hash: str) -> tuple[bool, str | None]:
        self._hold()
        result: tuple[bool, str | None] = self._real.verify_and_update(password, hash)
        return result


@pytest.fixture
async def hasher(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[HeldHasher]:
    held = HeldHasher(users_store._hasher, asyncio.get_running_loop())
    monkeypatch.setattr(users_store, "_hasher", held)
    yield held
    held.release.set()


@pytest.fixture
def queue_seconds() -> float:
    return 0  # no waiting for a slot: a login beyond the bound is refused at once


@pytest.fixture
def settings(settings: Settings, queue_seconds: float) -> Settings:
    # One login hashing at a time.
    return settings.model_copy(
        update={"login_max_concurrent": 1, "login_queue_seconds": queue_seconds}
    )


async def test_other_requests_are_answered_while_a_password_is_hashed(
    client: httpx.AsyncClient,
    users: dict[Role, ApiUser],
    tokens: dict[Role, str],
    hasher: HeldHasher,
) -> None:
    viewer = users[Role.VIEWER]
    logging_in = asyncio.create_task(login(client, viewer.username, viewer.password))
    await hasher.started.wait()

    other = await client.get("/api/auth/me", headers=bearer(tokens[Role.ADMIN]))
    hasher.events.append("other answered")
    hasher.release.set()

    assert other.status_code == 200
    assert (await logging_in).status_code == 200
    assert hasher.events == ["other answered", "hash finished"]


async def test_a_login_beyond_the_bound_is_503_with_retry_after(
    client: httpx.AsyncClient, users: dict[Role, ApiUser], hasher: HeldHasher
) -> None:
    viewer = users[Role.VIEWER]
    first = asyncio.create_task(login(client, viewer.username, viewer.password))
    await hasher.started.wait()

    refused = await login(client, viewer.username, viewer.password)
    hasher.release.set()

    assert refused.status_code == 503
    assert refused.json()["code"] == "API-009"
    assert refused.json()["status"] == "error"
    assert int(refused.headers["retry-after"]) >= 1
    assert (await first).status_code == 200
    assert hasher.events == ["hash finished"]  # the refused login hashed nothing
    again = await login(client, viewer.username, viewer.password)
    assert again.status_code == 200


@pytest.mark.parametrize("queue_seconds", [_DEADLOCK_BREAKER_SECONDS])
async def test_a_waiting_login_gets_the_slot_once_it_is_free(
    app: FastAPI, client: httpx.AsyncClient, users: dict[Role, ApiUser], hasher: HeldHasher
) -> None:
    viewer = users[Role.VIEWER]
    first = asyncio.create_task(login(client, viewer.username, viewer.password))
    await hasher.started.wait()
    second = asyncio.create_task(login(client, viewer.username, viewer.password))

    async def second_is_waiting() -> bool:
        return app_state(app).login_slots.waiting == 1

    await eventually(second_is_waiting)
    hasher.release.set()

    assert (await first).status_code == 200
    assert (await second).status_code == 200
    assert hasher.events == ["hash finished", "hash finished"]


async def test_the_login_documents_its_refusals(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    responses = document["paths"]["/api/auth/login"]["post"]["responses"]
    assert {"400", "401", "429", "503"} <= set(responses)
    assert "Retry-After" in responses["503"]["headers"]
