"""Start (or attach to) a DeviceRemovalWorkflow and wait for its answer.

The workflow ID is `device-removal/{device_id}`: a second DELETE while one runs lands on
the same run. After a run finished, a new one may start (the device may have been joined
again). A half-joined device has a join run but perhaps no inventory row yet; it is found
through its run.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.service import RPCError

from api.core.errors import ApiError
from api.core.links import temporal_ui_link
from api.core.runs import StillRunning, failure_of, is_not_found, result_within, unavailable
from store.settings import Settings
from workflows.contracts.common import DEVICE_ID, NODE_NAME, REMOVAL_FAILED, ErrorType
from workflows.contracts.devices import (
    DEVICE_REMOVAL_WORKFLOW,
    REMOVAL_PROGRESS_QUERY,
    DeviceRemovalInput,
    RemovalProgress,
    device_removal_workflow_id,
)
from workflows.contracts.join import JOIN_PROGRESS_QUERY, JoinProgress, device_join_workflow_id

# Long enough for every step's patient retries; a removal stuck longer needs a human.
EXECUTION_TIMEOUT = timedelta(hours=12)


class RemovalRunning(Exception):
    def __init__(self, progress: RemovalProgress) -> None:
        super().__init__("removal still running")
        self.progress = progress


class RemovalFailed(Exception):
    def __init__(self, message: str, progress: RemovalProgress | None) -> None:
        super().__init__(message)
        self.progress = progress


async def running_join(client: Client, *, device_id: str) -> JoinProgress | None:
    """The progress of the device's join run while it runs; None when none does."""
    handle = client.get_workflow_handle(device_join_workflow_id(device_id))
    try:
        described = await handle.describe()
        if described.status != WorkflowExecutionStatus.RUNNING:
            return None
        progress: JoinProgress = await handle.query(JOIN_PROGRESS_QUERY, result_type=JoinProgress)
    except RPCError as err:
        if is_not_found(err):
            return None
        raise unavailable(err) from err
    return progress


async def remove_device(
    client: Client, *, inp: DeviceRemovalInput, task_queue: str, answer_timeout: float
) -> RemovalProgress:
    handle = await client.start_workflow(
        DEVICE_REMOVAL_WORKFLOW,
        inp,
        id=device_removal_workflow_id(inp.device_id),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(DEVICE_ID, inp.device_id),
                SearchAttributePair(NODE_NAME, inp.node_name),
            ]
        ),
        execution_timeout=EXECUTION_TIMEOUT,
        result_type=RemovalProgress,
    )
    try:
        return await result_within(handle, seconds=answer_timeout)
    except StillRunning:
        progress: RemovalProgress = await handle.query(
            REMOVAL_PROGRESS_QUERY, result_type=RemovalProgress
        )
        raise RemovalRunning(progress) from None
    except WorkflowFailureError as err:
        progress_at_failure = failure_of(err, RemovalProgress, type_=REMOVAL_FAILED)
        raise RemovalFailed(str(err.cause or err), progress_at_failure) from err


def removal_input(
    settings: Settings, *, device_id: str, node_name: str, node_id: str | None
) -> DeviceRemovalInput:
    return DeviceRemovalInput(
        device_id=device_id,
        node_name=node_name,
        node_id=node_id,
        kubeedge_namespace=settings.kubeedge_namespace,
        device_namespace=settings.device_namespace,
    )


def run_details(settings: Settings, device_id: str) -> dict[str, str]:
    workflow_id = device_removal_workflow_id(device_id)
    return {"workflow_id": workflow_id, "temporal_ui_url": temporal_ui_link(settings, workflow_id)}


async def removal_outcome(
    client: Client, *, settings: Settings, inp: DeviceRemovalInput
) -> tuple[RemovalProgress, bool]:
    """(progress, finished): finished False means still running (answer 202).

    A failed removal is an ApiError: 409 when Kubernetes said the object is not ours to
    delete, 503 otherwise, with the steps already done in `details`.
    """
    try:
        progress = await remove_device(
            client,
            inp=inp,
            task_queue=settings.task_queue,
            answer_timeout=settings.join_answer_timeout_seconds,
        )
    except RPCError as err:
        raise unavailable(err) from err
    except RemovalRunning as running:
        return running.progress, False
    except RemovalFailed as failed:
        details: dict[str, Any] = run_details(settings, inp.device_id)
        status = 503
        if failed.progress is not None and failed.progress.failure is not None:
            failure = failed.progress.failure
            details |= {
                "failed_step": failure.step.value,
                "error_type": failure.error_type,
                "reason": failure.message,
                "actions_taken": failed.progress.actions_taken,
            }
            status = 409 if failure.error_type == ErrorType.CONFLICT else 503
        raise ApiError(
            status, f"removal of {inp.device_id} failed: {failed}", details=details
        ) from failed
    return progress, True
