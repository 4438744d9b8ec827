"""update_with_start when the update does not answer in time: still running, never a 500."""

from __future__ import annotations

import uuid

import pytest
from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.core.errors import RunStillRunning
from api.core.runs import RunStart, update_with_start


class Progress(BaseModel):
    stage: str


class Start(BaseModel):
    name: str


@workflow.defn(name="SlowToAnswer", sandboxed=False)
class SlowToAnswer:
    """Its update waits for a signal that never comes."""

    def __init__(self) -> None:
        self._go = False

    @workflow.run
    async def run(self, _: Start) -> Progress:
        await workflow.wait_condition(lambda: self._go)
        return Progress(stage="done")

    @workflow.update(name="answer")
    async def answer(self, _: str) -> Progress:
        await workflow.wait_condition(lambda: self._go)
        return Progress(stage="answered")

    @workflow.query(name="progress")
    def progress(self) -> Progress:
        return Progress(stage="waiting")


async def test_an_update_not_answered_in_time_is_still_running(
    dev_env: WorkflowEnvironment,
) -> None:
    queue = f"slow-{uuid.uuid4()}"
    run = RunStart(
        workflow="SlowToAnswer",
        arg=Start(name="x"),
        id=f"slow/{uuid.uuid4()}",
        summary="A run slow to answer",
        task_queue=queue,
        result_type=Progress,
        progress_query="progress",
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    async with Worker(dev_env.client, task_queue=queue, workflows=[SlowToAnswer]):
        try:
            with pytest.raises(RunStillRunning) as raised:
                await update_with_start(
                    dev_env.client, run, update="answer", fingerprint="f", within=1.0
                )
            assert raised.value.progress == Progress(stage="waiting")
        finally:
            await dev_env.client.get_workflow_handle(run.id).terminate()
