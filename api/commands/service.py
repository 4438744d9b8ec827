"""Start, follow and cancel command runs (CommandWorkflow, BroadcastCommandWorkflow) by name.

A command run's ID is `command/{command_id}`, so the same POST again (same command_id and
body) lands on the same run: update-with-start with conflict policy USE_EXISTING, the
update answering when the command was sent (`accepted`) or is over (`finished`). The
update's validator refuses another body under the same ID: a conflict.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio.client import Client, WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from workflows.contracts.commands import (
    COMMAND_CANCEL_UPDATE,
    COMMAND_STATUS_QUERY,
    CommandStatus,
    command_workflow_id,
)


class CommandConflict(Exception):
    """The command ID is taken by a run with another request."""


class CommandStillRunning(Exception):
    """The answer timeout passed first; the run goes on."""

    def __init__(self, status: CommandStatus | None) -> None:
        super().__init__("the command is still running")
        self.status = status


class CommandClosed(Exception):
    """A run with this ID is already over (its outcome is in the store)."""


async def start_command(
    client: Client,
    *,
    workflow: str,
    arg: Any,
    command_id: str,
    fingerprint: str,
    update: str,
    task_queue: str,
    answer_timeout: float,
    run_timeout: timedelta,
    search_attributes: list[SearchAttributePair[Any]],
) -> CommandStatus:
    """Start (or attach to) the run and wait for `update` to answer, at most `answer_timeout`."""
    workflow_id = command_workflow_id(command_id)
    start: WithStartWorkflowOperation[Any, CommandStatus] = WithStartWorkflowOperation(
        workflow,
        arg,
        id=workflow_id,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        # A finished command is never re-run under its ID: its outcome is the answer.
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        search_attributes=TypedSearchAttributes(search_attributes),
        execution_timeout=run_timeout,
        result_type=CommandStatus,
    )
    call = client.execute_update_with_start_workflow(
        update, fingerprint, start_workflow_operation=start, result_type=CommandStatus
    )
    try:
        return await asyncio.wait_for(call, timeout=answer_timeout)
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        if isinstance(cause, ApplicationError) and cause.type == "Conflict":
            raise CommandConflict(cause.message) from err
        raise
    except WorkflowAlreadyStartedError as err:
        raise CommandClosed(workflow_id) from err
    except TimeoutError:
        raise CommandStillRunning(await query_status(client, command_id=command_id)) from None


async def query_status(client: Client, *, command_id: str) -> CommandStatus | None:
    """The run's own view (running or recently closed); None when there is no such run."""
    handle = client.get_workflow_handle(command_workflow_id(command_id))
    try:
        status: CommandStatus = await handle.query(COMMAND_STATUS_QUERY, result_type=CommandStatus)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    return status


async def cancel(client: Client, *, command_id: str) -> CommandStatus | None:
    """Cancel a running command; None when no run of it is running."""
    handle = client.get_workflow_handle(command_workflow_id(command_id))
    try:
        status: CommandStatus = await handle.execute_update(
            COMMAND_CANCEL_UPDATE, result_type=CommandStatus
        )
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    return status
