"""Helpers for the tests of users, API keys, logout and rate limits."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
from fastapi import FastAPI

from api.core.config_cache import RuntimeConfigCache
from api.core.rate_limit import RateLimiter
from api.core.state import app_sessions, app_settings, app_state, set_app_state
from store.access.users import Role, create_user
from store.models import User
from store.runtime_config import save_runtime_config
from tests.api.helpers import bearer


def api_key_header(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


async def new_api_key(
    client: httpx.AsyncClient, admin_token: str, *, role: Role, **extra: Any
) -> dict[str, Any]:
    """The creation answer (with `key`) of a fresh key of `role`."""
    response = await client.post(
        "/api/auth/api-keys",
        json={"name": f"{role.value} key", "role": role.value, **extra},
        headers=bearer(admin_token),
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def add_user(app: FastAPI, *, username: str, role: Role) -> int:
    async with app_sessions(app)() as session, session.begin():
        user: User = await create_user(
            session, username=username, password="a-long-enough-secret", role=role
        )
        return user.id


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def use_fake_clock(app: FastAPI) -> FakeClock:
    """Give the app a config cache on a fake clock, and fresh rate-limit counters."""
    clock = FakeClock()
    state = app_state(app)
    set_app_state(
        app,
        replace(state, config_cache=RuntimeConfigCache(clock=clock), rate_limiter=RateLimiter()),
    )
    return clock


async def set_rate_limit(app: FastAPI, per_minute: int) -> None:
    """Change the stored runtime config, as PUT /api/kubeedge/config would."""
    async with app_sessions(app)() as session, session.begin():
        await save_runtime_config(
            session, changes={"rate_limit_per_minute": per_minute}, settings=app_settings(app)
        )
