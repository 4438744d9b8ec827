"""Maintenance mode on the stack (dev server, real worker, sandbox, broker, moto S3): a
backup schedule does not fire during it, fires again after, and one an operator paused
stays paused."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import ScheduleHandle
from temporalio.testing import WorkflowEnvironment

from tests.e2e.stack import Stack, running_stack, stack_settings
from tests.support.helpers import eventually
from tests.support.mqtt_fixtures import Broker
from tests.support.storage_fixtures import Target
from workers.schedules import ensure_backup_schedule
from workflows.contracts.backup import backup_schedule_temporal_id
from workflows.contracts.maintenance import SCHEDULE_PAUSE_NOTE

pytestmark = pytest.mark.parametrize("backup_target", ["s3"], indirect=True)

START = "/api/kubeedge/maintenance/start"
STOP = "/api/kubeedge/maintenance/stop"
WINDOW = {"reason": "store upgrade", "duration_minutes": 30, "message": "back in 30 minutes"}


@pytest.fixture
async def stack(
    dev_env: WorkflowEnvironment,
    kube_sandbox_url: str,
    mqtt_broker: Broker,
    backup_target: Target,
    tmp_path: Path,
) -> AsyncIterator[Stack]:
    tag = uuid.uuid4().hex[:8]
    settings = stack_settings(
        data_dir=tmp_path, temporal=dev_env.client, sandbox_url=kube_sandbox_url, broker=mqtt_broker
    ).model_copy(
        update={
            "backup_location": backup_target.location,
            "backup_s3_endpoint_url": backup_target.endpoint,
            "backup_s3_region": "us-east-1",
            "kubeedge_namespace": f"ke-{tag}",
            "device_namespace": f"dev-{tag}",
            "backup_schedule_id": f"m-{tag}",
            "backup_schedule_interval_seconds": 1,
            "backup_schedule_min_interval_seconds": 1,
            "backup_keep_last": 2,
            "backup_keep_days": 0,
        }
    )
    async with running_stack(settings, dev_env.client) as running:
        auth = await running.login()
        try:
            yield running
        finally:  # the dev server outlives this test: no window or schedule may stay
            with contextlib.suppress(Exception):
                await running.http.post(STOP, headers=auth)
            with contextlib.suppress(Exception):
                await dev_env.client.get_schedule_handle(
                    backup_schedule_temporal_id(settings.backup_schedule_id)
                ).delete()


async def actions(handle: ScheduleHandle) -> int:
    return (await handle.describe()).info.num_actions


async def test_a_backup_schedule_does_not_fire_during_maintenance(stack: Stack) -> None:
    settings, auth = stack.settings, await stack.login()
    assert await ensure_backup_schedule(stack.temporal, settings=settings) == "created"
    handle = stack.temporal.get_schedule_handle(
        backup_schedule_temporal_id(settings.backup_schedule_id)
    )

    async def fired() -> bool:
        return await actions(handle) >= 1

    await eventually(fired, within=60)  # it does fire, every second

    started = await stack.http.post(START, json=WINDOW, headers=auth)
    assert started.status_code == 200, started.text
    assert {"kind": "schedule", "id": handle.id, "run_id": None} in started.json()["paused"]
    state = (await handle.describe()).schedule.state
    assert state.paused
    assert state.note == SCHEDULE_PAUSE_NOTE
    before = await actions(handle)
    await asyncio.sleep(3)  # three of its intervals
    assert await actions(handle) == before

    assert (await stack.http.post(STOP, headers=auth)).status_code == 200
    assert not (await handle.describe()).schedule.state.paused

    async def fires_again() -> bool:
        return await actions(handle) > before

    await eventually(fires_again, within=60)

    # A worker that starts with a changed configuration during a window updates the
    # schedule but leaves it paused; the window's end resumes it.
    assert (await stack.http.post(START, json=WINDOW, headers=auth)).status_code == 200
    changed = settings.model_copy(update={"backup_keep_last": 3})
    assert await ensure_backup_schedule(stack.temporal, settings=changed) == "updated"
    state = (await handle.describe()).schedule.state
    assert (state.paused, state.note) == (True, SCHEDULE_PAUSE_NOTE)  # before: unpaused
    assert (await stack.http.post(STOP, headers=auth)).status_code == 200
    assert not (await handle.describe()).schedule.state.paused

    # A schedule the operator paused is neither paused nor unpaused by a window.
    await handle.pause(note="operator: hold backups")
    again = await stack.http.post(START, json=WINDOW, headers=auth)
    assert again.status_code == 200, again.text
    assert all(item["id"] != handle.id for item in again.json()["paused"])
    assert (await stack.http.post(STOP, headers=auth)).status_code == 200
    state = (await handle.describe()).schedule.state
    assert state.paused
    assert state.note == "operator: hold backups"
