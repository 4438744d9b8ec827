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
from temporalio.common import SearchAttributePair, WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError

from api.core.errors import ApiError
from api.core.links import temporal_ui_link
from api.core.runs import (
    Outcome,
    RunStart,
    failure_of,
    is_not_found,
    outcome_within,
    start_or_attach,
    unavailable,
)
from store.settings import Settings
from workflows.contracts import summaries
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
) -> Outcome[RemovalProgress]:
    """(progress, finished): finished False means still running (answer 202).

    A failed removal is an ApiError: 409 when Kubernetes said the object is not ours to
    delete, 503 otherwise, with the steps already done in `details`.
    """
    run = RunStart(
        workflow=DEVICE_REMOVAL_WORKFLOW,
        arg=inp,
        id=device_removal_workflow_id(inp.device_id),
        summary=summaries.device_removal_summary(inp.device_id, inp.node_name),
        task_queue=settings.task_queue,
        result_type=RemovalProgress,
        progress_query=REMOVAL_PROGRESS_QUERY,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        search_attributes=[
            SearchAttributePair(DEVICE_ID, inp.device_id),
            SearchAttributePair(NODE_NAME, inp.node_name),
        ],
        execution_timeout=EXECUTION_TIMEOUT,
    )
    try:
        started = await start_or_attach(client, run)
        return await outcome_within(
            started.handle, run, seconds=settings.join_answer_timeout_seconds
        )
    except RPCError as err:
        raise unavailable(err) from err
    except WorkflowFailureError as err:
        raise _failed(err, settings=settings, device_id=inp.device_id) from err


def _failed(err: WorkflowFailureError, *, settings: Settings, device_id: str) -> ApiError:
    progress = failure_of(err, RemovalProgress, type_=REMOVAL_FAILED)
    details: dict[str, Any] = run_details(settings, device_id)
    status = 503
    if progress is not None and progress.failure is not None:
        failure = progress.failure
        details |= {
            "failed_step": failure.step.value,
            "error_type": failure.error_type,
            "reason": failure.message,
            "actions_taken": progress.actions_taken,
        }
        status = 409 if failure.error_type == ErrorType.CONFLICT else 503
    return ApiError(status, f"removal of {device_id} failed: {err.cause or err}", details=details)
