"""The maintenance gate in the app: writes refused with 503, Retry-After and the window's
message in each contract's envelope; reads, logins, health and the maintenance and
restore calls pass. The window is written into the store as the workflow writes it;
Temporal is unreachable here, so no run exists (the workflow's tests are elsewhere)."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from api.maintenance.gate import EXEMPT, WRITES, exempt
from store import maintenance
from store.access.users import Role
from store.db import create_engine, session_factory
from store.models import utcnow
from store.settings import Settings
from tests.api.helpers import ApiUser, bearer, login, make_settings
from workflows.contracts.maintenance import MaintenanceStatus, PausedItem, PausedKind

JOIN = {"node_name": "gate-node-1", "device_id": "gate-device-1"}


@pytest.fixture
def settings(tmp_path: Path, template_db: tuple[Path, list[ApiUser]]) -> Settings:
    shutil.copyfile(template_db[0], tmp_path / "edgewright.db")
    # No caching: each request sees the row this test just wrote.
    return make_settings(tmp_path, maintenance_gate_cache_seconds=0)


async def open_window(settings: Settings, *, minutes: float = 30, message: str = "") -> None:
    now = utcnow()
    status = MaintenanceStatus(
        active=True,
        reason="upgrade",
        message=message,
        started_at=now - timedelta(minutes=1),
        ends_at=now + timedelta(minutes=minutes),
        started_by="admin-user",
        paused=(PausedItem(kind=PausedKind.BATCH_JOIN, id="batch-join/b1", run_id="r1"),),
        workflow_id="maintenance/edgewright",
        run_id="run-1",
    )
    engine = create_engine(settings.sqlalchemy_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            await maintenance.record_window(session, status)
    finally:
        await engine.dispose()


async def test_writes_are_refused_in_the_cloudcore_envelope(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, tokens: dict[Role, str]
) -> None:
    await open_window(settings, minutes=30, message="Upgrading the store")
    answer = await client.post(
        "/api/kubeedge/device/join", json=JOIN, headers=bearer(tokens[Role.ADMIN])
    )
    assert answer.status_code == 503
    body = answer.json()
    assert body["status"] == "error"
    assert body["code"] == "API-009"
    assert "Upgrading the store" in body["message"]
    assert body["details"]["maintenance"] is True
    assert body["details"]["reason"] == "upgrade"
    retry_after = int(answer.headers["Retry-After"])
    assert 29 * 60 <= retry_after <= 30 * 60  # seconds until ends_at, rounded up


async def test_writes_are_refused_in_the_edge_envelope(
    client: httpx.AsyncClient, settings: Settings, tokens: dict[Role, str]
) -> None:
    await open_window(settings)
    answer = await client.post(
        "/api/v1/nodes", json={"name": "gate-node-2"}, headers=bearer(tokens[Role.ADMIN])
    )
    assert answer.status_code == 503
    body = answer.json()
    assert body["error"] is True
    assert body["code"] == "SERVICE_UNAVAILABLE"
    assert body["details"]["maintenance"] is True
    assert int(answer.headers["Retry-After"]) > 0
    deleted = await client.delete("/api/v1/workloads/w1", headers=bearer(tokens[Role.ADMIN]))
    assert deleted.status_code == 503


async def test_reads_login_and_health_pass(
    client: httpx.AsyncClient,
    settings: Settings,
    tokens: dict[Role, str],
    users: dict[Role, ApiUser],
) -> None:
    await open_window(settings)
    assert (
        await client.get("/api/kubeedge/devices", headers=bearer(tokens[Role.VIEWER]))
    ).status_code == 200
    viewer = users[Role.VIEWER]
    assert (await login(client, viewer.username, viewer.password)).status_code == 200
    assert (await client.get("/api/health")).status_code in (200, 503)
    health = await client.get("/api/health")
    assert "maintenance" not in health.json().get("details", {})


async def test_maintenance_and_restore_calls_are_not_refused(
    client: httpx.AsyncClient, settings: Settings, tokens: dict[Role, str]
) -> None:
    await open_window(settings)
    admin = bearer(tokens[Role.ADMIN])
    # Temporal is unreachable here, so they get that 503; never the gate's.
    for path, body in (
        ("/api/kubeedge/maintenance/stop", None),
        ("/api/kubeedge/maintenance/start", {"reason": "x", "duration_minutes": 5}),
        ("/api/kubeedge/restore", {"backup_id": "b1"}),
    ):
        answer = await client.post(path, json=body, headers=admin)
        assert answer.status_code == 503, path
        assert "maintenance" not in answer.json()["details"], path
        assert "Temporal" in answer.json()["message"], path
    # And a non-admin's maintenance call is the route's 403, not the gate's 503.
    refused = await client.post(
        "/api/kubeedge/maintenance/stop", headers=bearer(tokens[Role.OPERATOR])
    )
    assert refused.status_code == 403
    assert refused.json()["code"] == "API-003"


async def test_a_window_past_its_deadline_refuses_nothing(
    client: httpx.AsyncClient, settings: Settings, tokens: dict[Role, str]
) -> None:
    await open_window(settings, minutes=-1)  # its worker never closed it
    answer = await client.post(
        "/api/kubeedge/device/join", json=JOIN, headers=bearer(tokens[Role.ADMIN])
    )
    assert answer.status_code != 503 or "maintenance" not in answer.json()["details"]
    status = await client.get(
        "/api/kubeedge/maintenance/status", headers=bearer(tokens[Role.VIEWER])
    )
    assert status.json()["active"] is False


async def test_status_shows_the_window(
    client: httpx.AsyncClient, settings: Settings, tokens: dict[Role, str]
) -> None:
    viewer = bearer(tokens[Role.VIEWER])
    before = await client.get("/api/kubeedge/maintenance/status", headers=viewer)
    assert before.status_code == 200
    assert before.json()["active"] is False
    assert before.json()["paused"] == []
    await open_window(settings, message="back at noon")
    during = (await client.get("/api/kubeedge/maintenance/status", headers=viewer)).json()
    assert during["status"] == "success"
    assert during["active"] is True
    assert during["reason"] == "upgrade"
    assert during["message"] == "back at noon"
    assert during["started_by"] == "admin-user"
    assert during["paused"] == [{"kind": "batch_join", "id": "batch-join/b1", "run_id": "r1"}]
    assert during["started_at"]
    assert during["ends_at"]
    assert (await client.get("/api/kubeedge/maintenance/status")).status_code == 401


def test_the_exemptions_are_exactly_these() -> None:
    assert exempt("POST", "/api/auth/login")
    assert exempt("POST", "/api/auth/logout")
    assert exempt("POST", "/api/kubeedge/maintenance/start")
    assert exempt("POST", "/api/kubeedge/maintenance/stop")
    assert exempt("POST", "/api/kubeedge/restore")
    assert exempt("DELETE", "/api/auth/api-keys/k1")
    assert exempt("POST", "/api/v1/security/tokens/revoke")
    # Full matches only: no prefix or suffix rides along.
    assert not exempt("POST", "/api/kubeedge/maintenance/start/x")
    assert not exempt("POST", "/api/kubeedge/restores")
    assert not exempt("POST", "/api/auth/users")
    assert not exempt("PUT", "/api/kubeedge/maintenance/start")
    assert not exempt("POST", "/api/v1/security/tokens")
    assert len(EXEMPT) == 9


def test_every_refusable_write_documents_the_503(app: FastAPI) -> None:
    document = app.openapi()
    refusable = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method.upper() not in WRITES:
                continue
            concrete = path.replace("{", "").replace("}", "")
            if exempt(method.upper(), concrete):
                continue
            refusable += 1
            answer = operation["responses"].get("503")
            assert answer is not None, f"{method} {path}"
            assert "Retry-After" in answer["headers"], f"{method} {path}"
    assert refusable > 30
