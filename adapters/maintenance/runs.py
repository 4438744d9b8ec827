"""Opening and closing the maintenance window's run by name, for the API and for the
restore's activities alike (neither may import the workflow).

Opening starts the run under the deployment's one ID with conflict policy FAIL, so a
second window is refused while one runs, then waits for its `opened` update: when that
answers, the window is in the store and the running work is paused. Closing is the
`stop` update, which answers once everything is resumed and the end recorded.
"""

from __future__ import annotations

import asyncio

from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    WorkflowUpdateStage,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from workflows.contracts.maintenance import (
    MAINTENANCE_OPENED_UPDATE,
    MAINTENANCE_STATUS_QUERY,
    MAINTENANCE_STOP_UPDATE,
    MAINTENANCE_WORKFLOW,
    MaintenanceInput,
    MaintenanceStatus,
    StopInput,
    maintenance_workflow_id,
)


class AlreadyActive(Exception):
    """A window's run holds the ID: `status` is what it says (None if it did not answer)."""

    def __init__(self, status: MaintenanceStatus | None) -> None:
        super().__init__("a maintenance window is already active")
        self.status = status


class NotActive(Exception):
    """No window's run is open (or not the one asked for)."""


class NotAnswered(Exception):
    """The run did not answer within the wait; it goes on (`status` so far, if known)."""

    def __init__(self, status: MaintenanceStatus | None) -> None:
        super().__init__("the maintenance window did not answer in time")
        self.status = status


def _summary(inp: MaintenanceInput) -> str:
    return f"Maintenance for {inp.duration_minutes} min: {inp.reason}"[:200]


async def open_window(
    client: Client, inp: MaintenanceInput, *, task_queue: str, within: float
) -> MaintenanceStatus:
    """Start the window and wait until it is open: AlreadyActive, or NotAnswered."""
    workflow_id = maintenance_workflow_id(task_queue)
    try:
        handle: WorkflowHandle[object, MaintenanceStatus] = await client.start_workflow(
            MAINTENANCE_WORKFLOW,
            inp,
            id=workflow_id,
            task_queue=task_queue,
            result_type=MaintenanceStatus,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            static_summary=_summary(inp),
        )
    except WorkflowAlreadyStartedError:
        raise AlreadyActive(await running_status(client, task_queue=task_queue)) from None
    return await wait_opened(handle, within=within)


async def wait_opened(
    handle: WorkflowHandle[object, MaintenanceStatus], *, within: float
) -> MaintenanceStatus:
    try:
        return await asyncio.wait_for(
            handle.execute_update(MAINTENANCE_OPENED_UPDATE, result_type=MaintenanceStatus),
            within,
        )
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
        # wait_for cancels the update, and the SDK reports that cancellation as its own error.
        raise NotAnswered(await _query(handle)) from None


# How long a stop may wait for the run to take it, however short the answer's wait.
STOP_ACCEPTED_WITHIN = 10.0


async def close_window(
    client: Client,
    *,
    task_queue: str,
    stopped_by: str,
    within: float,
    run_id: str | None = None,
) -> MaintenanceStatus:
    """Stop the running window (only run `run_id`, when given) and wait for its end:
    NotActive when none runs, NotAnswered when it takes longer than `within`."""
    handle = client.get_workflow_handle(
        maintenance_workflow_id(task_queue), run_id=run_id, result_type=MaintenanceStatus
    )
    if not await _running(handle):
        raise NotActive()
    try:
        # The stop is the update itself: wait until the run has taken it (an update cut
        # short before that may never arrive), then for its answer up to `within`.
        stop = await asyncio.wait_for(
            handle.start_update(
                MAINTENANCE_STOP_UPDATE,
                StopInput(stopped_by=stopped_by),
                wait_for_stage=WorkflowUpdateStage.ACCEPTED,
                result_type=MaintenanceStatus,
            ),
            max(within, STOP_ACCEPTED_WITHIN),
        )
        return await asyncio.wait_for(stop.result(), within)
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
        raise NotAnswered(await _query(handle)) from None
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:  # it ended between the check and the stop
            raise NotActive() from None
        raise


async def running_status(client: Client, *, task_queue: str) -> MaintenanceStatus | None:
    """What the running window says; None when none runs (or it does not answer)."""
    handle = client.get_workflow_handle(
        maintenance_workflow_id(task_queue), result_type=MaintenanceStatus
    )
    if not await _running(handle):
        return None
    return await _query(handle)


async def _running(handle: WorkflowHandle[object, MaintenanceStatus]) -> bool:
    try:
        described = await handle.describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return described.status == WorkflowExecutionStatus.RUNNING


async def _query(handle: WorkflowHandle[object, MaintenanceStatus]) -> MaintenanceStatus | None:
    try:
        status: MaintenanceStatus = await asyncio.wait_for(
            handle.query(MAINTENANCE_STATUS_QUERY, result_type=MaintenanceStatus), 5.0
        )
    except (RPCError, TimeoutError):
        return None
    return status
