"""Reading the audit log back, through the API and straight from the store."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from api.core.state import app_sessions
from store.models import AuditRow
from tests.api.helpers import bearer

LOGS = "/api/kubeedge/security/logs"


async def logs(client: httpx.AsyncClient, token: str, **params: object) -> dict[str, Any]:
    answer = await client.get(LOGS, params=params, headers=bearer(token))
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def stored_rows(app: FastAPI) -> list[AuditRow]:
    async with app_sessions(app)() as session:
        return list(await session.scalars(select(AuditRow).order_by(AuditRow.id)))


def as_text(rows: list[AuditRow]) -> str:
    """Every column of every row, for "this string is nowhere" checks."""
    return "\n".join(
        repr((r.timestamp, r.event, r.actor, r.source_ip, r.target, r.outcome, r.details))
        for r in rows
    )


def events(body: dict[str, Any]) -> list[str]:
    return [item["event"] for item in body["logs"]]
