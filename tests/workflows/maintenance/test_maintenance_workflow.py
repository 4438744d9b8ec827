"""MaintenanceWorkflow on the time-skipping server with stand-in activities: it ends at
its deadline or when stopped, and resumes exactly what it paused."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateStage
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.workflows.maintenance.fake_maintenance_activities import (
    RUNNING,
    FakeMaintenanceActivities,
)
from workflows.contracts.maintenance import (
    MAINTENANCE_OPENED_UPDATE,
    MAINTENANCE_STATUS_QUERY,
    MAINTENANCE_STOP_UPDATE,
    MAINTENANCE_WORKFLOW,
    EndReason,
    MaintenanceInput,
    MaintenanceStatus,
    StopInput,
    maintenance_workflow_id,
)
from workflows.maintenance.window import MaintenanceWorkflow

WINDOW = MaintenanceInput(
    reason="upgrade", message="back soon", duration_minutes=90, started_by="admin"
)


@pytest.fixture
def fakes() -> FakeMaintenanceActivities:
    return FakeMaintenanceActivities()


@pytest.fixture
async def queue(
    time_skipping_env: WorkflowEnvironment, fakes: FakeMaintenanceActivities
) -> AsyncIterator[str]:
    name = f"maintenance-{uuid.uuid4()}"
    async with Worker(
        time_skipping_env.client,
        task_queue=name,
        workflows=[MaintenanceWorkflow],
        activities=fakes.all(),
    ):
        yield name


async def start(
    env: WorkflowEnvironment, queue: str, inp: MaintenanceInput = WINDOW
) -> WorkflowHandle[Any, MaintenanceStatus]:
    return await env.client.start_workflow(
        MAINTENANCE_WORKFLOW,
        inp,
        id=maintenance_workflow_id(queue),
        task_queue=queue,
        result_type=MaintenanceStatus,
    )


async def test_ends_at_its_deadline_and_resumes_what_it_paused(
    time_skipping_env: WorkflowEnvironment, queue: str, fakes: FakeMaintenanceActivities
) -> None:
    handle = await start(time_skipping_env, queue)
    ended = await handle.result()  # the server skips the 90 minutes

    assert ended.active is False
    assert ended.ended is EndReason.DEADLINE
    assert ended.stopped_by is None
    assert ended.started_at is not None
    assert ended.stopped_at is not None
    assert ended.stopped_at - ended.started_at >= timedelta(minutes=90)
    assert ended.ends_at == ended.started_at + timedelta(minutes=90)
    # Paused, then resumed: the very items it found, nothing else.
    assert [(call.paused, list(call.items)) for call in fakes.pause_calls] == [
        (True, RUNNING),
        (False, RUNNING),
    ]
    assert list(ended.paused) == RUNNING
    # The window is recorded open (then with what it paused) before anything is paused,
    # and recorded closed before it is announced closed.
    assert [record.active for record in fakes.records] == [True, True, False]
    assert fakes.records[0].paused == ()
    assert list(fakes.records[1].paused) == RUNNING
    assert [a.active for a in fakes.announced] == [True, False]


async def test_stop_ends_it_early_and_answers_with_the_end(
    time_skipping_env: WorkflowEnvironment, queue: str, fakes: FakeMaintenanceActivities
) -> None:
    handle = await start(time_skipping_env, queue)
    opened = await handle.execute_update(MAINTENANCE_OPENED_UPDATE, result_type=MaintenanceStatus)
    assert opened.active is True
    assert list(opened.paused) == RUNNING
    assert [call.paused for call in fakes.pause_calls] == [True]

    stopped = await handle.execute_update(
        MAINTENANCE_STOP_UPDATE, StopInput(stopped_by="ops"), result_type=MaintenanceStatus
    )
    assert stopped.active is False
    assert stopped.ended is EndReason.STOPPED
    assert stopped.stopped_by == "ops"
    assert stopped.stopped_at is not None
    assert stopped.ends_at is not None
    assert stopped.stopped_at < stopped.ends_at
    assert [(call.paused, list(call.items)) for call in fakes.pause_calls] == [
        (True, RUNNING),
        (False, RUNNING),
    ]
    assert (await handle.result()) == stopped


async def test_a_second_stop_waits_for_the_same_end(
    time_skipping_env: WorkflowEnvironment, queue: str, fakes: FakeMaintenanceActivities
) -> None:
    handle = await start(time_skipping_env, queue)
    await handle.execute_update(MAINTENANCE_OPENED_UPDATE, result_type=MaintenanceStatus)
    first = await handle.start_update(
        MAINTENANCE_STOP_UPDATE,
        StopInput(stopped_by="first"),
        result_type=MaintenanceStatus,
        wait_for_stage=WorkflowUpdateStage.ACCEPTED,
    )
    second = await handle.execute_update(
        MAINTENANCE_STOP_UPDATE, StopInput(stopped_by="second"), result_type=MaintenanceStatus
    )
    assert (await first.result()).stopped_by == second.stopped_by == "first"
    # Resumed once, not once per stop.
    assert [call.paused for call in fakes.pause_calls] == [True, False]


async def test_nothing_running_pauses_nothing(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    fakes = FakeMaintenanceActivities(running=[])
    name = f"maintenance-{uuid.uuid4()}"
    async with Worker(
        time_skipping_env.client, task_queue=name, workflows=[MaintenanceWorkflow],
        activities=fakes.all(),
    ):  # fmt: skip
        handle = await start(time_skipping_env, name)
        status = await handle.query(MAINTENANCE_STATUS_QUERY, result_type=MaintenanceStatus)
        assert status.reason == "upgrade"
        assert status.message == "back soon"
        ended = await handle.result()
    assert ended.paused == ()
    assert [list(call.items) for call in fakes.pause_calls] == [[], []]
