"""End to end: commands over HTTP to simulated devices on a real broker, through the bridge."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from simulator.device import Mode
from simulator.fleet import Fleet
from store import commands
from tests.e2e.command_stack import CommandStack, command_settings, running_command_stack
from tests.e2e.restartable_broker import RestartableBroker, restartable_broker
from tests.support.helpers import eventually, polled
from tests.support.mqtt_fixtures import Broker

__all__ = ["restartable_broker"]  # the fixture, used by name below

SEED_COMMAND = {
    "command": "capture_image",
    "parameters": {"resolution": "1920x1080", "format": "jpg", "quality": 90},
    "timeout": 30,
}


@pytest.fixture
async def stack(
    dev_env: WorkflowEnvironment, kube_sandbox_url: str, mqtt_broker: Broker, tmp_path: Path
) -> AsyncIterator[CommandStack]:
    settings = command_settings(
        data_dir=tmp_path, temporal=dev_env.client, sandbox_url=kube_sandbox_url, broker=mqtt_broker
    )
    async with running_command_stack(settings, dev_env.client) as running:
        yield running


@pytest.fixture
async def fleet_of(stack: CommandStack, mqtt_broker: Broker) -> AsyncIterator[Any]:
    fleets: list[Fleet] = []

    async def make(count: int, **timing: Any) -> Fleet:
        fleet = await stack.devices(count, mqtt=mqtt_broker, **timing)
        fleets.append(fleet)
        return fleet

    yield make
    for fleet in fleets:
        await fleet.stop()


async def status_of(stack: CommandStack, command_id: str) -> dict[str, Any]:
    answer = await stack.http.get(f"/api/kubeedge/command/{command_id}/status", headers=stack.auth)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def polled_status(stack: CommandStack, command_id: str) -> dict[str, Any]:
    """The command's status for a poll: {} while the run's query went unanswered (503)."""
    url = f"/api/kubeedge/command/{command_id}/status"
    body: dict[str, Any] | None = polled(await stack.http.get(url, headers=stack.auth))
    return body or {}


async def test_a_command_completes(stack: CommandStack, fleet_of: Any) -> None:
    fleet = await fleet_of(1)
    device_id = next(iter(fleet.devices))
    answer = await stack.http.post(
        f"/api/kubeedge/device/{device_id}/command?wait=true", json=SEED_COMMAND, headers=stack.auth
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "success"
    assert body["device_id"] == device_id
    assert body["command"] == "capture_image"
    assert body["expected_response_timeout"] == 30
    assert body["command_id"].startswith("cmd_")
    assert body["sent_at"] is not None
    assert body["command_status"] == "completed"
    assert body["result"]["success"] is True
    assert body["result"]["resolution"] == "1920x1080"
    assert body["workflow_id"] == f"command/{body['command_id']}"

    async def recorded() -> dict[str, Any] | None:
        async with stack.sessions() as session:
            row = await commands.get_command(session, command_id=body["command_id"])
        return (
            await status_of(stack, body["command_id"])
            if row and row.status == "completed"
            else None
        )

    status = await eventually(recorded)
    assert status["status"] == "completed"
    assert status["result"]["image_url"].endswith(".jpg")
    assert status["execution_time"].endswith("s")
    assert status["node_name"] == fleet.device(device_id).spec.node_name

    # The same command ID and body again is the same command, even after it ended.
    again = {**SEED_COMMAND, "command_id": body["command_id"]}
    first = await stack.http.post(
        f"/api/kubeedge/device/{device_id}/command", json=again, headers=stack.auth
    )
    assert first.status_code == 200, first.text
    assert first.json()["command_status"] == "completed"
    other = {**again, "parameters": {"resolution": "640x480"}}
    conflict = await stack.http.post(
        f"/api/kubeedge/device/{device_id}/command", json=other, headers=stack.auth
    )
    assert conflict.status_code == 409
    assert conflict.json()["code"] == "API-005"


async def test_unknown_devices_and_bad_bodies_are_refused(stack: CommandStack) -> None:
    missing = await stack.http.post(
        "/api/kubeedge/device/no-such-device/command", json=SEED_COMMAND, headers=stack.auth
    )
    assert (missing.status_code, missing.json()["code"]) == (404, "API-004")
    bad = await stack.http.post(
        "/api/kubeedge/device/no-such-device/command",
        json={"command": "rm -rf /"},
        headers=stack.auth,
    )
    assert (bad.status_code, bad.json()["code"]) == (400, "API-001")
    unknown = await stack.http.get("/api/kubeedge/command/cmd_nothing/status", headers=stack.auth)
    assert unknown.status_code == 404


async def test_a_silent_device_times_out_on_time_and_a_late_answer_is_kept(
    stack: CommandStack, fleet_of: Any
) -> None:
    fleet = await fleet_of(2)
    silent, slow = sorted(fleet.devices)
    fleet.device(silent).mode = Mode.HANG
    fleet.device(slow).timing.answer_delay = 3.0

    hung = await stack.http.post(
        f"/api/kubeedge/device/{silent}/command?wait=true",
        json={"command": "ping", "timeout": 1.5},
        headers=stack.auth,
    )
    assert hung.status_code == 200, hung.text
    body = hung.json()
    assert body["command_status"] == "timed_out"
    assert body["result"] == {"success": False, "error": "no answer within 1.5s"}
    sent_at = datetime.fromisoformat(body["sent_at"])
    completed_at = datetime.fromisoformat(body["completed_at"])
    assert completed_at - sent_at >= timedelta(seconds=1.5)
    # On time: the run waited on one timer of exactly the timeout.
    handle = stack.temporal.get_workflow_handle(body["workflow_id"])
    timers = [
        event.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
        async for event in handle.fetch_history_events()
        if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED
    ]
    assert timers == [timedelta(seconds=1.5)]

    late = await stack.http.post(
        f"/api/kubeedge/device/{slow}/command?wait=true",
        json={"command": "ping", "timeout": 1},
        headers=stack.auth,
    )
    assert late.json()["command_status"] == "timed_out"
    command_id = late.json()["command_id"]

    async def late_answer_kept() -> dict[str, Any] | None:
        status = await polled_status(stack, command_id)
        return status if status.get("late_result") else None

    status = await eventually(late_answer_kept)
    assert status["status"] == "timed_out"  # never flipped
    assert status["late_result"]["success"] is True
    assert status["late_result"]["device_id"] == slow


async def test_an_offline_device_gets_its_command_when_it_comes_back(
    stack: CommandStack, fleet_of: Any
) -> None:
    fleet = await fleet_of(1)
    device_id = next(iter(fleet.devices))
    await fleet.drop(device_id)
    await stack.wait_presence(device_id, online=False)  # the last will, through the bridge

    queued = await stack.http.post(
        f"/api/kubeedge/device/{device_id}/command",
        json={"command": "get_status", "connect_timeout": 120},
        headers=stack.auth,
    )
    assert queued.status_code == 202, queued.text
    assert queued.json()["status"] == "accepted"  # not sent yet: never "success"
    assert queued.json()["command_status"] == "queued"
    assert queued.json()["sent_at"] is None
    command_id = queued.json()["command_id"]
    assert queued.json()["status_url"] == f"/api/kubeedge/command/{command_id}/status"
    assert (await status_of(stack, command_id))["waiting_for_device"] is True

    await fleet.come_back(device_id)

    async def completed() -> dict[str, Any] | None:
        status = await polled_status(stack, command_id)
        return status if status.get("status") == "completed" else None

    status = await eventually(completed, within=60)
    assert status["result"]["success"] is True
    assert fleet.device(device_id).counts["commands"] == 1


async def test_a_device_that_never_comes_back_is_unreachable(
    stack: CommandStack, fleet_of: Any
) -> None:
    fleet = await fleet_of(1)
    device_id = next(iter(fleet.devices))
    await fleet.drop(device_id)
    await stack.wait_presence(device_id, online=False)
    answer = await stack.http.post(
        f"/api/kubeedge/device/{device_id}/command?wait=true",
        json={"command": "get_status", "connect_timeout": 1},
        headers=stack.auth,
    )
    assert (answer.status_code, answer.json()["code"]) == (502, "API-008")
    assert answer.json()["details"]["command_status"] == "failed"


async def test_a_broker_restart_mid_command_loses_nothing(
    dev_env: WorkflowEnvironment,
    kube_sandbox_url: str,
    restartable_broker: RestartableBroker,
    tmp_path: Path,
) -> None:
    await restartable_broker.start()
    broker = restartable_broker.broker
    settings = command_settings(
        data_dir=tmp_path, temporal=dev_env.client, sandbox_url=kube_sandbox_url, broker=broker
    )
    async with running_command_stack(settings, dev_env.client) as stack:
        fleet = await stack.devices(1, mqtt=broker, answer_delay=2.0)
        try:
            device_id = next(iter(fleet.devices))
            sent = await stack.http.post(
                f"/api/kubeedge/device/{device_id}/command",
                json={"command": "capture_image", "timeout": 120},
                headers=stack.auth,
            )
            assert sent.status_code == 200, sent.text
            assert sent.json()["command_status"] == "sent"
            # The device holds the command and answers in 2 s; the broker goes away now.
            await restartable_broker.restart()

            async def completed() -> dict[str, Any] | None:
                status = await polled_status(stack, sent.json()["command_id"])
                return status if status.get("status") == "completed" else None

            status = await eventually(completed, within=90)
            assert status["result"]["success"] is True
            assert fleet.device(device_id).counts["answers"] == 1
        finally:
            await fleet.stop()


async def test_a_command_job_aborts_at_its_threshold(stack: CommandStack, fleet_of: Any) -> None:
    fleet = await fleet_of(8)
    ordered = sorted(fleet.devices)
    for device_id in ordered[:2]:
        fleet.device(device_id).mode = Mode.FAIL
    answer = await stack.http.post(
        "/api/kubeedge/command/jobs",
        json={
            "command": "reboot",
            "device_ids": ordered,
            "rate_per_minute": 60,
            "timeout": 10,
            "abort_threshold_percent": 50,
            "min_executed_for_abort": 2,
        },
        headers=stack.auth,
    )
    assert answer.status_code == 202, answer.text
    job_id = answer.json()["job_id"]
    assert answer.json()["status"] == "accepted"
    assert answer.json()["status_url"] == f"/api/kubeedge/command/jobs/{job_id}"
    assert answer.json()["state"] == "running"

    async def over() -> dict[str, Any] | None:
        url = f"/api/kubeedge/command/jobs/{job_id}"
        body: dict[str, Any] | None = polled(await stack.http.get(url, headers=stack.auth))
        return body if body is not None and body["state"] in ("aborted", "completed") else None

    done = await eventually(over, within=60)
    assert done["state"] == "aborted"
    assert done["total"] == 8
    assert done["failed"] >= 2
    assert done["started"] < 8
    assert "threshold 50%" in done["abort_reason"]
    steer = await stack.http.post(f"/api/kubeedge/command/jobs/{job_id}/resume", headers=stack.auth)
    assert steer.status_code == 409


async def test_cancel_a_command_the_device_sits_on(stack: CommandStack, fleet_of: Any) -> None:
    fleet = await fleet_of(1)
    device_id = next(iter(fleet.devices))
    fleet.device(device_id).mode = Mode.HANG
    sent = await stack.http.post(
        f"/api/kubeedge/device/{device_id}/command",
        json={"command": "reboot", "timeout": 3600},
        headers=stack.auth,
    )
    command_id = sent.json()["command_id"]
    cancelled = await stack.http.post(
        f"/api/kubeedge/command/{command_id}/cancel", headers=stack.auth
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    again = await stack.http.post(f"/api/kubeedge/command/{command_id}/cancel", headers=stack.auth)
    assert again.json()["status"] == "cancelled"


async def test_connection_tests_run_as_commands(stack: CommandStack, fleet_of: Any) -> None:
    fleet = await fleet_of(1)
    device_id = next(iter(fleet.devices))
    started = await stack.http.post(
        "/api/kubeedge/test/connection",
        json={"device_id": device_id},
        headers=stack.auth,
    )
    assert started.status_code == 202, started.text
    test_id = started.json()["test_id"]
    assert started.json()["status"] == "accepted"
    assert started.json()["status_url"] == f"/api/kubeedge/test/results/{test_id}"
    assert started.json()["tests"] == ["ping", "port_check", "camera_test"]

    async def finished() -> dict[str, Any] | None:
        url = f"/api/kubeedge/test/results/{test_id}"
        body: dict[str, Any] | None = polled(await stack.http.get(url, headers=stack.auth))
        return body if body is not None and body["state"] == "completed" else None

    results = await eventually(finished)
    assert (results["passed"], results["failed"]) == (3, 0)
    assert {r["name"]: r["status"] for r in results["results"]} == {
        "ping": "completed",
        "port_check": "completed",
        "camera_test": "completed",
    }
    missing = await stack.http.get("/api/kubeedge/test/results/test_nothing", headers=stack.auth)
    assert missing.status_code == 404


async def test_a_broadcast_reaches_every_device_of_the_type(
    stack: CommandStack, fleet_of: Any
) -> None:
    fleet = await fleet_of(2)
    answer = await stack.http.post(
        "/api/kubeedge/command/broadcast?wait=true",
        json={"command": "get_status", "device_type": "camera", "timeout": 30},
        headers=stack.auth,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["command_status"] == "completed"
    status = await status_of(stack, answer.json()["command_id"])
    assert status["answered"] == 2
    assert {a["device_id"] for a in status["answers"]} == set(fleet.devices)
