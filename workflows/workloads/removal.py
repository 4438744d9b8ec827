"""WorkloadRemovalWorkflow: take a workload off the cluster and out of the store.

Stop its unfinished rollouts (the `supersede` signal: stop applying, no rollback, since
everything goes anyway) and wait, boundedly, for them to end so none applies a wave after
the objects are gone; then delete every object labelled with the workload; then its rows.
Each step is idempotent, so a retried or re-run removal finishes the job.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from workflows.contracts import summaries
    from workflows.contracts.common import STAGE, WORKLOAD_ID
    from workflows.contracts.workloads import (
        ROLLOUT_SUPERSEDE_SIGNAL,
        WORKLOAD_REMOVAL_WORKFLOW,
        WorkloadRef,
        WorkloadRemovalInput,
        WorkloadRemovalResult,
        delete_workload_objects,
        delete_workload_records,
        running_workload_rollouts,
    )

STEP_TIMEOUT = timedelta(seconds=60)
DELETE_TIMEOUT = timedelta(minutes=30)
RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1), maximum_attempts=0)
POLL = timedelta(seconds=3)
MAX_POLLS = 100  # five minutes for stopped rollouts to finish their wave in flight

ArgT = TypeVar("ArgT")
ResultT = TypeVar("ResultT")


@workflow.defn(name=WORKLOAD_REMOVAL_WORKFLOW)
class WorkloadRemovalWorkflow:
    @workflow.run
    async def run(self, inp: WorkloadRemovalInput) -> WorkloadRemovalResult:
        workflow.upsert_search_attributes(
            [WORKLOAD_ID.value_set(inp.workload_id), STAGE.value_set("stopping-rollouts")]
        )
        ref = WorkloadRef(workload_id=inp.workload_id)
        stopped = await _activity(running_workload_rollouts, ref)
        signalled = []
        for workflow_id in stopped:
            try:
                handle = workflow.get_external_workflow_handle(workflow_id)
                await handle.signal(ROLLOUT_SUPERSEDE_SIGNAL)
                signalled.append(workflow_id)
            except FailureError:
                # Its row says running but the run is gone (never started, or ended
                # before recording): nothing to stop, nothing to wait for.
                workflow.logger.info("rollout %s no longer runs", workflow_id)
        for _ in range(MAX_POLLS if signalled else 0):
            await workflow.sleep(POLL)
            running = await _activity(running_workload_rollouts, ref)
            if not set(running) & set(signalled):
                break
        workflow.upsert_search_attributes([STAGE.value_set("deleting-objects")])
        deleted = await _activity(delete_workload_objects, inp, timeout=DELETE_TIMEOUT)
        workflow.upsert_search_attributes([STAGE.value_set("deleting-records")])
        await _activity(delete_workload_records, ref)
        workflow.upsert_search_attributes([STAGE.value_set("completed")])
        return WorkloadRemovalResult(
            workload_id=inp.workload_id, objects_deleted=deleted, rollouts_stopped=stopped
        )


async def _activity(
    stub: Callable[[ArgT], Awaitable[ResultT]],
    arg: ArgT,
    *,
    timeout: timedelta = STEP_TIMEOUT,  # noqa: ASYNC109  # Temporal's, not asyncio's
) -> ResultT:
    return await workflow.execute_activity(
        stub,
        arg,
        summary=summaries.activity_summary(stub, arg),
        start_to_close_timeout=timeout,
        heartbeat_timeout=timedelta(seconds=60) if timeout > STEP_TIMEOUT else None,
        retry_policy=RETRY,
    )
