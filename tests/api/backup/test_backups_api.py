"""Backup endpoints that answer from the store, validation, roles, and the human size.

The app here has no Temporal (a closed port): endpoints that start workflows answer 503;
they run end to end in tests/e2e/backup/test_backup_restore_e2e.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from api.core.humanize import human_size
from api.core.state import app_sessions
from store.access.users import Role
from store.backup import records as backups
from tests.api.helpers import bearer

T0 = datetime(2026, 1, 15, 10, 30, tzinfo=UTC)


async def add_backups(app: FastAPI, count: int) -> None:
    async with app_sessions(app)() as session, session.begin():
        for index in range(count):
            await backups.save_backup(
                session,
                backup_id=f"b-{index:02d}",
                kind="manual",
                status="completed",
                include=["config", "devices"],
                workflow_id=f"backup/b-{index:02d}",
                created_at=T0 + timedelta(hours=index),
                completed_at=T0 + timedelta(hours=index, minutes=1),
                location=f"s3://bucket/b-{index:02d}.tar.gz",
                size_bytes=45 * 1024 * 1024,
                sha256="a" * 64,
                format_version=1,
                contents={
                    "parts": [
                        {
                            "name": "devices",
                            "include": "devices",
                            "source": "table",
                            "count": 3,
                            "bytes": 10,
                            "sha256": "b" * 64,
                        }
                    ],
                    "skipped": [],
                },
            )


async def test_list_is_newest_first_with_count_and_pagination(
    app: FastAPI, client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    await add_backups(app, 3)
    answer = await client.get("/api/kubeedge/backups?limit=2", headers=bearer(tokens[Role.VIEWER]))
    assert answer.status_code == 200
    body = answer.json()
    assert body["count"] == 3
    assert body["pagination"] == {"total": 3, "page": 1, "limit": 2, "pages": 2}
    first = body["backups"][0]
    assert first["backup_id"] == "b-02"
    assert first["size"] == "45MB"
    assert first["location"] == "s3://bucket/b-02.tar.gz"
    assert first["created_at"].startswith("2026-01-15T12:30:00")
    assert first["backup_status"] == "completed"
    assert first["parts"][0]["count"] == 3
    assert first["temporal_ui_url"].endswith("/workflows/backup%2Fb-02")
    assert first["status_url"] == "/api/kubeedge/backups/b-02"


async def test_detail_and_404(
    app: FastAPI, client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    await add_backups(app, 1)
    auth = bearer(tokens[Role.VIEWER])
    found = await client.get("/api/kubeedge/backups/b-00", headers=auth)
    assert found.status_code == 200
    assert found.json()["sha256"] == "a" * 64
    missing = await client.get("/api/kubeedge/backups/nope", headers=auth)
    assert missing.status_code == 404
    assert missing.json()["code"] == "API-004"
    restore = await client.get("/api/kubeedge/restores/nope", headers=auth)
    assert restore.status_code == 404


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/kubeedge/backup", {"name": "../etc/passwd"}, "name"),
        ("/api/kubeedge/backup", {"include": []}, "include"),
        ("/api/kubeedge/backup", {"include": ["users"]}, "include[0]"),
        ("/api/kubeedge/backup", {"bucket": "x"}, "bucket"),
        ("/api/kubeedge/restore", {}, "backup_id"),
        ("/api/kubeedge/restore", {"backup_id": "b", "mode": "wipe"}, "mode"),
    ],
)
async def test_invalid_requests_are_400(
    client: httpx.AsyncClient,
    tokens: dict[Role, str],
    path: str,
    body: dict[str, object],
    field: str,
) -> None:
    answer = await client.post(path, json=body, headers=bearer(tokens[Role.ADMIN]))
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "API-001"
    assert field in answer.json()["details"]


async def test_roles(client: httpx.AsyncClient, tokens: dict[Role, str]) -> None:
    viewer, operator = bearer(tokens[Role.VIEWER]), bearer(tokens[Role.OPERATOR])
    assert (await client.post("/api/kubeedge/backup", json={}, headers=viewer)).status_code == 403
    restore = await client.post("/api/kubeedge/restore", json={"backup_id": "b"}, headers=operator)
    assert restore.status_code == 403  # a restore rewrites the inventory: admins only
    put = await client.put(
        "/api/kubeedge/backup/schedules/default", json={"cron": "0 2 * * *"}, headers=operator
    )
    assert put.status_code == 403
    assert (await client.get("/api/kubeedge/backups")).status_code == 401


async def test_without_temporal_starting_a_run_is_503(
    client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    answer = await client.post("/api/kubeedge/backup", json={}, headers=bearer(tokens[Role.ADMIN]))
    assert answer.status_code == 503
    assert answer.json()["code"] == "API-009"
    assert answer.headers["Retry-After"] == "5"


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (None, None),
        (0, "0B"),
        (900, "900B"),
        (1536, "1.5KB"),
        (45 * 1024**2, "45MB"),
        (3 * 1024**3, "3GB"),
    ],
)
def test_human_size(size: int | None, text: str | None) -> None:
    assert human_size(size) == text
