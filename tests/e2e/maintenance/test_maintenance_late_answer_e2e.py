"""A window that answers after the API stops waiting: 202 with what it says so far.

The API waits on an update with asyncio's timeout; the SDK reports that cancelled update
as an error of its own, which once answered 500.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.stack import Stack
from tests.support.helpers import eventually, polled

STATUS = "/api/kubeedge/maintenance/status"


@pytest.fixture
def stack_overrides() -> dict[str, Any]:
    return {"maintenance_answer_timeout_seconds": 0.001}  # no run answers so fast


async def test_start_and_stop_answered_late_are_accepted(stack: Stack) -> None:
    auth = await stack.login()
    started = await stack.http.post(
        "/api/kubeedge/maintenance/start",
        json={"reason": "upgrade", "duration_minutes": 5},
        headers=auth,
    )
    assert started.status_code == 202, started.text
    assert started.json()["status"] == "accepted"

    async def window(active: bool) -> dict[str, Any] | None:
        body: dict[str, Any] | None = polled(await stack.http.get(STATUS, headers=auth))
        return body if body is not None and body["active"] is active else None

    assert (await eventually(lambda: window(True)))["reason"] == "upgrade"

    stopped = await stack.http.post("/api/kubeedge/maintenance/stop", headers=auth)
    assert stopped.status_code == 202, stopped.text
    assert (await eventually(lambda: window(False)))["stopped_by"] == "admin"
