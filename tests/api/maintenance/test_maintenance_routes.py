"""Start's input is checked before anything else (400 in the CloudCore envelope, before
Temporal is even needed), and only admins may start or stop maintenance."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from api.maintenance.cache import MaintenanceCache
from store.access.users import Role
from tests.api.helpers import bearer

START = "/api/kubeedge/maintenance/start"


BAD_BODIES: list[tuple[dict[str, Any], str]] = [
    ({"duration_minutes": 30}, "reason"),
    ({"reason": "", "duration_minutes": 30}, "reason"),
    ({"reason": "x" * 201, "duration_minutes": 30}, "reason"),
    ({"reason": "up\ngrade", "duration_minutes": 30}, "reason"),
    ({"reason": "upgrade"}, "duration_minutes"),
    ({"reason": "upgrade", "duration_minutes": 0}, "duration_minutes"),
    ({"reason": "upgrade", "duration_minutes": 7 * 24 * 60 + 1}, "duration_minutes"),
    ({"reason": "upgrade", "duration_minutes": "30"}, "duration_minutes"),
    ({"reason": "upgrade", "duration_minutes": 1.5}, "duration_minutes"),
    ({"reason": "upgrade", "duration_minutes": True}, "duration_minutes"),
    ({"reason": "upgrade", "duration_minutes": 30, "message": "m" * 501}, "message"),
    ({"reason": "upgrade", "duration_minutes": 30, "extra": 1}, "extra"),
]


async def test_bad_start_bodies_are_400(client: httpx.AsyncClient, tokens: dict[Role, str]) -> None:
    # One app for all of them: starting one per case costs seconds each.
    for body, field in BAD_BODIES:
        answer = await client.post(START, json=body, headers=bearer(tokens[Role.ADMIN]))
        assert answer.status_code == 400, (body, answer.text)
        error = answer.json()
        assert error["status"] == "error"
        assert error["code"] == "API-001"
        assert any(field in key for key in error["details"]), (body, error["details"])


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR])
async def test_only_admins_start_and_stop(
    client: httpx.AsyncClient, tokens: dict[Role, str], role: Role
) -> None:
    body = {"reason": "upgrade", "duration_minutes": 30}
    started = await client.post(START, json=body, headers=bearer(tokens[role]))
    stopped = await client.post("/api/kubeedge/maintenance/stop", headers=bearer(tokens[role]))
    assert (started.status_code, stopped.status_code) == (403, 403)
    assert started.json()["code"] == "API-003"


async def test_the_cache_rereads_after_its_ttl_or_an_invalidate() -> None:
    reads: list[int] = []
    now = [0.0]

    class Sessions:
        def __call__(self) -> Any:
            return self

        async def __aenter__(self) -> Any:
            reads.append(1)
            return self

        async def __aexit__(self, *_: object) -> None:
            return None

        async def get(self, *_: object, **__: object) -> None:
            return None  # no window row

    cache = MaintenanceCache(ttl_seconds=2.0, clock=lambda: now[0])
    sessions: Any = Sessions()
    assert (await cache.get(sessions)).active is False
    await cache.get(sessions)
    assert len(reads) == 1  # within the TTL: no second read
    now[0] = 2.0
    await cache.get(sessions)
    assert len(reads) == 2
    cache.invalidate()
    await cache.get(sessions)
    assert len(reads) == 3


async def test_gate_cache_reads_once_for_writes_arriving_together() -> None:
    """Writes that find the copy stale while a read is under way wait for that read."""
    reads: list[int] = []
    release = asyncio.Event()

    class Sessions:
        def __call__(self) -> Any:
            return self

        async def __aenter__(self) -> Any:
            reads.append(1)
            return self

        async def __aexit__(self, *_: object) -> None:
            return None

        async def get(self, *_: object, **__: object) -> None:
            await release.wait()  # the store is slow: the other writes arrive meanwhile

    cache = MaintenanceCache(ttl_seconds=2.0, clock=lambda: 0.0)
    sessions: Any = Sessions()
    waiting = [asyncio.create_task(cache.get(sessions)) for _ in range(20)]
    await asyncio.sleep(0)
    release.set()
    answers = await asyncio.gather(*waiting)
    assert len(reads) == 1
    assert all(answer.active is False for answer in answers)
