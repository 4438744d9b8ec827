"""update_with_start when the update does not answer in time: still running, never a 500;
and when Temporal gives up on the call before the wait is over: tried again."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pydantic import BaseModel
from temporalio import workflow
from temporalio.client import (
    Client,
    Interceptor,
    OutboundInterceptor,
    StartWorkflowUpdateWithStartInput,
    WorkflowUpdateHandle,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
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


@workflow.defn(name="QuickToAnswer", sandboxed=False)
class QuickToAnswer:
    def __init__(self) -> None:
        self._answers = 0

    @workflow.run
    async def run(self, _: Start) -> Progress:
        await workflow.wait_condition(lambda: False)
        return Progress(stage="done")

    @workflow.update(name="answer")
    async def answer(self, _: str) -> Progress:
        self._answers += 1
        return Progress(stage=f"answered {self._answers}")


class GivesUpOnce(Interceptor):
    """Temporal giving up on the first update-with-start call after the update was made."""

    def __init__(self) -> None:
        self.given_up = 0

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _GivesUpOnce(next, self)


class _GivesUpOnce(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, counter: GivesUpOnce) -> None:
        super().__init__(next)
        self._counter = counter

    async def start_update_with_start_workflow(
        self, input: StartWorkflowUpdateWithStartInput[Any, Any, Any]
    ) -> WorkflowUpdateHandle[Any]:
        handle = await super().start_update_with_start_workflow(input)
        if not self._counter.given_up:
            self._counter.given_up += 1
            raise WorkflowUpdateRPCTimeoutOrCancelledError()
        return handle


async def test_an_update_call_temporal_gave_up_on_is_tried_again_within_the_wait(
    dev_env: WorkflowEnvironment,
) -> None:
    queue = f"quick-{uuid.uuid4()}"
    gives_up = GivesUpOnce()
    client = Client(**{**dev_env.client.config(), "interceptors": [gives_up]})
    run = RunStart(
        workflow="QuickToAnswer",
        arg=Start(name="x"),
        id=f"quick/{uuid.uuid4()}",
        summary="A run quick to answer",
        task_queue=queue,
        result_type=Progress,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )
    async with Worker(dev_env.client, task_queue=queue, workflows=[QuickToAnswer]):
        try:
            answer = await update_with_start(
                client, run, update="answer", fingerprint="f", within=30.0
            )
            # The second try attached to the first one's update: the handler ran once.
            assert answer == Progress(stage="answered 1")
            assert gives_up.given_up == 1
        finally:
            await dev_env.client.get_workflow_handle(run.id).terminate()
