"""Start or attach to a DeviceJoinWorkflow and wait for its provisioning answer.

The workflow ID is the business key `device-join/{device_id}`, so a repeated POST lands
on the same run (update-with-start, conflict policy USE_EXISTING) and gets the same
answer. The update's validator refuses a request whose fingerprint differs: 409.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowUpdateFailedError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

from workflows.contracts.common import DEVICE_ID, NODE_NAME, STAGE
from workflows.contracts.join import (
    DEVICE_JOIN_WORKFLOW,
    JOIN_PROGRESS_QUERY,
    JOIN_PROVISIONED_UPDATE,
    DeviceJoinInput,
    JoinProgress,
    JoinStatus,
    device_join_workflow_id,
)


class JoinConflict(Exception):
    """The device is being (or was) joined with a different request."""


class JoinStillRunning(Exception):
    """Provisioning did not finish within the answer timeout; the run goes on."""

    def __init__(self, progress: JoinProgress) -> None:
        super().__init__("provisioning is still running")
        self.progress = progress


async def join_device(
    client: Client, *, inp: DeviceJoinInput, task_queue: str, answer_timeout: float
) -> JoinProgress:
    workflow_id = device_join_workflow_id(inp.device_id)
    try:
        return await _start_or_attach(
            client,
            inp=inp,
            task_queue=task_queue,
            answer_timeout=answer_timeout,
            reuse=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        )
    except WorkflowAlreadyStartedError:
        pass  # a finished run holds the ID: joined, or expired and free to try again
    finished: JoinProgress = await client.get_workflow_handle(workflow_id).query(
        JOIN_PROGRESS_QUERY, result_type=JoinProgress
    )
    if finished.status == JoinStatus.JOINED:
        if finished.fingerprint != inp.fingerprint:
            raise JoinConflict(f"device {inp.device_id} is already joined with another request")
        return finished
    return await _start_or_attach(
        client,
        inp=inp,
        task_queue=task_queue,
        answer_timeout=answer_timeout,
        reuse=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
    )


async def _start_or_attach(
    client: Client,
    *,
    inp: DeviceJoinInput,
    task_queue: str,
    answer_timeout: float,
    reuse: WorkflowIDReusePolicy,
) -> JoinProgress:
    workflow_id = device_join_workflow_id(inp.device_id)
    start: WithStartWorkflowOperation[Any, JoinProgress] = WithStartWorkflowOperation(
        DEVICE_JOIN_WORKFLOW,
        inp,
        id=workflow_id,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=reuse,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(DEVICE_ID, inp.device_id),
                SearchAttributePair(NODE_NAME, inp.node_name),
                SearchAttributePair(STAGE, JoinStatus.PROVISIONING.value),
            ]
        ),
        # A join lives at most until its token expires, plus time to clean up.
        execution_timeout=timedelta(seconds=inp.token_ttl_seconds) + timedelta(days=2),
        result_type=JoinProgress,
    )
    update = client.execute_update_with_start_workflow(
        JOIN_PROVISIONED_UPDATE,
        inp.fingerprint,
        start_workflow_operation=start,
        result_type=JoinProgress,
    )
    try:
        return await asyncio.wait_for(update, timeout=answer_timeout)
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        if isinstance(cause, ApplicationError) and cause.type == "Conflict":
            raise JoinConflict(cause.message) from err
        raise
    except TimeoutError:
        progress = await client.get_workflow_handle(workflow_id).query(
            JOIN_PROGRESS_QUERY, result_type=JoinProgress
        )
        raise JoinStillRunning(progress) from None
