"""Start, follow and cancel command runs (CommandWorkflow, BroadcastCommandWorkflow) by name.

A command run's ID is `command/{command_id}`, so the same POST again (same command_id and
body) lands on the same run: update-with-start with conflict policy USE_EXISTING, the
update answering when the command was sent (`accepted`) or is over (`finished`). The
update's validator refuses another body under the same ID: a conflict.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.common import SearchAttributePair, WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError

from api.core.runs import (
    PROGRESS_QUERY_TIMEOUT,
    RunStart,
    is_not_found,
    query_progress,
    update_with_start,
)
from store import commands
from store.models import CommandRow
from workflows.contracts.commands import (
    COMMAND_CANCEL_UPDATE,
    COMMAND_STATUS_QUERY,
    CommandStatus,
    command_workflow_id,
)


async def start_command(
    client: Client,
    *,
    workflow: str,
    arg: Any,
    summary: str,
    command_id: str,
    fingerprint: str,
    update: str,
    task_queue: str,
    answer_timeout: float,
    run_timeout: timedelta,
    search_attributes: Sequence[SearchAttributePair[Any]],
) -> CommandStatus:
    """Start (or attach to) the run and wait for `update` to answer, at most `answer_timeout`.

    RunConflict when the ID is another request's, RunClosed when its run is over (its
    outcome is in the store), RunStillRunning when the answer timeout passed first.
    """
    run = RunStart(
        workflow=workflow,
        arg=arg,
        id=command_workflow_id(command_id),
        summary=summary,
        task_queue=task_queue,
        result_type=CommandStatus,
        progress_query=COMMAND_STATUS_QUERY,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        # A finished command is never re-run under its ID: its outcome is the answer.
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        search_attributes=search_attributes,
        execution_timeout=run_timeout,
    )
    return await update_with_start(
        client,
        run,
        update=update,
        fingerprint=fingerprint,
        within=answer_timeout,
        details={"command_id": command_id},
    )


async def query_status(
    client: Client, *, command_id: str, query_timeout: timedelta | None = None
) -> CommandStatus | None:
    """The run's own view (running or recently closed); None when there is no such run."""
    return await query_progress(
        client,
        command_workflow_id(command_id),
        query=COMMAND_STATUS_QUERY,
        result_type=CommandStatus,
        rpc_timeout=query_timeout,
    )


async def live_status(
    client: Client,
    *,
    command_id: str,
    row: CommandRow | None,
    query_timeout: timedelta = PROGRESS_QUERY_TIMEOUT,
) -> CommandStatus | None:
    """The run's view of a command whose row is not final; the row's when the run does not
    answer in time (a busy worker: the row is the record, the query only makes it fresher).
    None when there is neither a run nor a row."""
    try:
        running = await query_status(client, command_id=command_id, query_timeout=query_timeout)
    except RPCError:
        if row is None:
            raise  # nothing else to answer from: a 503
        return commands.status_of(row)
    if running is None and row is not None:
        return commands.status_of(row)
    return running


async def cancel(client: Client, *, command_id: str) -> CommandStatus | None:
    """Cancel a running command; None when no run of it is running."""
    handle = client.get_workflow_handle(command_workflow_id(command_id))
    try:
        status: CommandStatus = await handle.execute_update(
            COMMAND_CANCEL_UPDATE, result_type=CommandStatus
        )
    except RPCError as err:
        if is_not_found(err):
            return None
        raise
    return status
