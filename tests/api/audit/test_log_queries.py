"""Filters, pagination and their validation on GET /api/kubeedge/security/logs."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import FastAPI

from api.core.state import app_sessions
from store.access.users import Role
from store.audit import AuditEvent, append_audit_event
from store.models import utcnow
from tests.api.audit.helpers import LOGS, events, logs
from tests.api.helpers import bearer


async def seed(app: FastAPI) -> None:
    now = utcnow().replace(microsecond=0)
    async with app_sessions(app)() as session, session.begin():
        for hours in range(5, 0, -1):  # five failed logins, one an hour, 5 h ago to 1 h ago
            await append_audit_event(
                session,
                event=AuditEvent.LOGIN_FAILED,
                actor=f"user{hours}",
                at=now - timedelta(hours=hours),
            )


async def test_filters_and_pages(
    app: FastAPI, client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    await seed(app)
    admin = tokens[Role.ADMIN]
    page = await logs(client, admin, event="login_failed", page=2, limit=2)
    assert [item["actor"] for item in page["logs"]] == ["user3", "user4"]
    assert page["pagination"]["total"] == 5
    assert page["pagination"]["pages"] == 3
    assert page["pagination"]["next"] == f"{LOGS}?event=login_failed&page=3&limit=2"

    since = (utcnow() - timedelta(hours=3, minutes=30)).isoformat()
    until = (utcnow() - timedelta(hours=1, minutes=30)).isoformat()
    window = await logs(client, admin, since=since, until=until)
    assert [item["actor"] for item in window["logs"]] == ["user2", "user3"]
    assert events(await logs(client, admin, actor="user5")) == ["login_failed"]
    whole = await logs(client, admin)  # without page/limit: every event, like /devices
    assert whole["pagination"]["truncated"] is False
    assert whole["count"] == whole["pagination"]["total"] >= 5


BAD_FILTERS: list[tuple[dict[str, object], str]] = [
    ({"event": "made_up"}, "event"),
    ({"since": "yesterday"}, "since"),
    ({"until": "1700000000"}, "until"),  # a Unix time is not ISO 8601
    ({"since": "0001-01-01T00:00:00+01:00"}, "since"),  # before year 1 in UTC
    ({"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "until"),
    ({"actor": "bad\x07name"}, "actor"),
    ({"limit": 0}, "limit"),
    ({"page": 0}, "page"),
]


async def test_bad_filters_are_400_naming_the_field(
    client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    for params, field in BAD_FILTERS:  # one app for all: each is a cheap request
        answer = await client.get(LOGS, params=params, headers=bearer(tokens[Role.ADMIN]))
        assert answer.status_code == 400, (params, answer.text)
        assert answer.json()["code"] == "API-001"
        assert field in answer.json()["details"], (params, answer.json())


async def test_no_route_changes_or_deletes_an_event(
    client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    admin = bearer(tokens[Role.ADMIN])
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        answer = await client.request(method, LOGS, headers=admin)
        assert answer.status_code == 405
