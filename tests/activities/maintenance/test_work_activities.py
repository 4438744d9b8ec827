"""find_running_work and set_work_paused against the dev server: runs are found through
visibility by type, status and task queue, one an operator paused is left out, and
pause and resume reach the runs as their own signals.

The stand-in runs are registered under the real batch join's workflow type, query and
signal names (the workflow is not under test here; its pause is tested with it)."""

from __future__ import annotations

import uuid
from typing import Any

from temporalio import workflow
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.maintenance.work import MaintenanceWorkActivities, visibility_query
from store.settings import Settings
from tests.support.helpers import eventually
from workflows.contracts.join import (
    BATCH_JOIN_WORKFLOW,
    BATCH_PAUSE_SIGNAL,
    BATCH_PROGRESS_QUERY,
    BATCH_RESUME_SIGNAL,
)
from workflows.contracts.maintenance import (
    FindWorkInput,
    PausedItem,
    PausedKind,
    SetPausedInput,
)


@workflow.defn(name=BATCH_JOIN_WORKFLOW)
class StandInBatch:
    def __init__(self) -> None:
        self.paused = False
        self.done = False

    @workflow.run
    async def run(self, start_paused: bool) -> None:
        self.paused = start_paused
        await workflow.wait_condition(lambda: self.done)

    @workflow.query(name=BATCH_PROGRESS_QUERY)
    def progress(self) -> dict[str, Any]:
        return {"status": "paused" if self.paused else "running"}

    @workflow.signal(name=BATCH_PAUSE_SIGNAL)
    def pause(self) -> None:
        self.paused = True

    @workflow.signal(name=BATCH_RESUME_SIGNAL)
    def resume(self) -> None:
        self.paused = False

    @workflow.signal(name="finish")
    def finish(self) -> None:
        self.done = True


async def test_finds_running_batches_and_pauses_and_resumes_them(
    dev_env: WorkflowEnvironment,
) -> None:
    client = dev_env.client
    queue = f"maintenance-work-{uuid.uuid4()}"
    work = MaintenanceWorkActivities(
        settings=Settings.model_validate({"task_queue": queue}), client=client
    )
    activities = ActivityEnvironment()  # they heartbeat, so they run in an activity context
    async with Worker(
        client,
        task_queue=queue,
        workflows=[StandInBatch],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        running = await client.start_workflow(
            BATCH_JOIN_WORKFLOW, False, id=f"batch-join/{queue}-a", task_queue=queue
        )
        held = await client.start_workflow(
            BATCH_JOIN_WORKFLOW, True, id=f"batch-join/{queue}-b", task_queue=queue
        )

        async def both_listed() -> bool:
            listed = [w async for w in client.list_workflows(
                visibility_query(BATCH_JOIN_WORKFLOW, queue)
            )]  # fmt: skip
            return len(listed) == 2

        await eventually(both_listed)
        found = await activities.run(work.find_running_work, FindWorkInput())
        # The operator's paused batch is left out; no schedule runs on this queue.
        assert found == [
            PausedItem(kind=PausedKind.BATCH_JOIN, id=running.id, run_id=running.result_run_id)
        ]

        async def status(handle: Any) -> str:
            return str((await handle.query(BATCH_PROGRESS_QUERY))["status"])

        await activities.run(work.set_work_paused, SetPausedInput(items=tuple(found), paused=True))
        assert await status(running) == "paused"
        await activities.run(work.set_work_paused, SetPausedInput(items=tuple(found), paused=False))
        assert await status(running) == "running"
        assert await status(held) == "paused"  # never touched
        for handle in (running, held):
            await handle.signal("finish")
            await handle.result()
        # A run that has ended is nothing to resume: no error.
        await activities.run(work.set_work_paused, SetPausedInput(items=tuple(found), paused=False))
