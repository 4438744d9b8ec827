"""Maintenance mode on the stack (dev server, real worker, sandbox, broker): a join is
refused while it is active, in the CloudCore envelope with Retry-After, and goes through
after stop."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.e2e.stack import Stack

START = "/api/kubeedge/maintenance/start"
STOP = "/api/kubeedge/maintenance/stop"
WINDOW = {"reason": "store upgrade", "duration_minutes": 30, "message": "back in 30 minutes"}


@pytest.fixture
async def window_closed(stack: Stack) -> AsyncIterator[None]:
    """The dev server outlives this test: its window must not."""
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            await stack.http.post(STOP, headers=await stack.login())


@pytest.mark.usefixtures("window_closed")
async def test_a_join_is_refused_during_maintenance_and_passes_after(stack: Stack) -> None:
    auth = await stack.login()
    started = await stack.http.post(START, json=WINDOW, headers=auth)
    assert started.status_code == 200, started.text
    assert started.json()["active"] is True
    assert (await stack.http.post(START, json=WINDOW, headers=auth)).status_code == 409

    suffix = uuid.uuid4().hex[:6]
    join = {"node_name": f"mnode-{suffix}", "device_id": f"mdev-{suffix}"}
    refused = await stack.http.post("/api/kubeedge/device/join", json=join, headers=auth)
    assert refused.status_code == 503, refused.text
    assert refused.json()["code"] == "API-009"
    assert "back in 30 minutes" in refused.json()["message"]
    assert 0 < int(refused.headers["Retry-After"]) <= 30 * 60
    # Reads go on.
    assert (await stack.http.get("/api/kubeedge/devices", headers=auth)).status_code == 200
    status = (await stack.http.get("/api/kubeedge/maintenance/status", headers=auth)).json()
    assert status["active"] is True
    assert status["started_by"] == "admin"

    stopped = await stack.http.post(STOP, headers=auth)
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["active"] is False
    assert stopped.json()["ended"] == "stopped"
    assert (await stack.http.post(STOP, headers=auth)).status_code == 409

    joined = await stack.http.post("/api/kubeedge/device/join", json=join, headers=auth)
    assert joined.status_code in (200, 202), joined.text

    # Both actions are in the security log, with the run they opened and closed.
    logs = await stack.http.get("/api/kubeedge/security/logs", headers=auth)
    newest: dict[str, dict[str, Any]] = {}
    for entry in logs.json()["logs"]:  # newest first
        newest.setdefault(entry["event"], entry)
    started_log, stopped_log = newest["maintenance_started"], newest["maintenance_stopped"]
    assert started_log["details"]["run_id"] == stopped_log["details"]["run_id"] is not None
    assert (started_log["actor"], stopped_log["actor"]) == ("admin", "admin")
    assert started_log["details"]["reason"] == WINDOW["reason"]
