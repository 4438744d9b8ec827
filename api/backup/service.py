"""Start or attach to BackupWorkflow and RestoreWorkflow runs, and hear how they went.

IDs are business keys (`backup/{backup_id}`, `restore/{restore_id}`): the same request
again lands on the same run and gets the same answer; the same ID with another request is
a conflict (the run's fingerprint says which request started it). A run that failed may
be started again under its ID. Callers wait a bounded time for the end; a run still going
then is reported as it is so far.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any, TypeVar

from temporalio.client import Client, WorkflowFailureError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from api.core.runs import (
    Outcome,
    RunStart,
    ensure_same_request,
    failure_of,
    outcome_within,
    progress_of,
    query_progress,
    start_or_attach,
)
from workflows.contracts import summaries
from workflows.contracts.backup import (
    BACKUP_PROGRESS_QUERY,
    BACKUP_WORKFLOW,
    RESTORE_PROGRESS_QUERY,
    RESTORE_WORKFLOW,
    BackupInput,
    BackupProgress,
    RestoreInput,
    RestoreProgress,
    backup_workflow_id,
    restore_workflow_id,
)

P = TypeVar("P", BackupProgress, RestoreProgress)
RUN_TIMEOUT = timedelta(days=1)


async def run_backup(
    client: Client, *, backup_id: str, inp: BackupInput, task_queue: str, wait: float
) -> Outcome[BackupProgress]:
    """How the backup went, or goes so far; RunConflict when the ID is another request's."""
    run = _run(
        BACKUP_WORKFLOW,
        BACKUP_PROGRESS_QUERY,
        BackupProgress,
        inp,
        workflow_id=backup_workflow_id(backup_id),
        task_queue=task_queue,
    )
    return await _follow(
        client,
        run,
        fingerprint=inp.fingerprint,
        wait=wait,
        conflict=f"backup {backup_id} exists with another request",
        details={"backup_id": backup_id},
    )


async def run_restore(
    client: Client, *, restore_id: str, inp: RestoreInput, task_queue: str, wait: float
) -> Outcome[RestoreProgress]:
    """How the restore went, or goes so far; RunConflict when the ID is another request's."""
    run = _run(
        RESTORE_WORKFLOW,
        RESTORE_PROGRESS_QUERY,
        RestoreProgress,
        inp,
        workflow_id=restore_workflow_id(restore_id),
        task_queue=task_queue,
    )
    return await _follow(
        client,
        run,
        fingerprint=inp.fingerprint,
        wait=wait,
        conflict=f"restore {restore_id} exists with another request",
        details={"restore_id": restore_id},
    )


async def backup_progress(client: Client, *, backup_id: str) -> BackupProgress | None:
    return await _progress(
        client, backup_workflow_id(backup_id), BACKUP_PROGRESS_QUERY, BackupProgress
    )


async def restore_progress(client: Client, *, restore_id: str) -> RestoreProgress | None:
    return await _progress(
        client, restore_workflow_id(restore_id), RESTORE_PROGRESS_QUERY, RestoreProgress
    )


def _run(
    workflow: str,
    query: str,
    model: type[P],
    inp: BackupInput | RestoreInput,
    *,
    workflow_id: str,
    task_queue: str,
) -> RunStart[P]:
    return RunStart(
        workflow=workflow,
        arg=inp,
        id=workflow_id,
        summary=summaries.backup_summary(workflow_id.partition("/")[2], inp.kind.value)
        if isinstance(inp, BackupInput)
        else summaries.restore_summary(inp.backup_id, dry_run=inp.dry_run),
        task_queue=task_queue,
        result_type=model,
        progress_query=query,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        execution_timeout=RUN_TIMEOUT,
    )


async def _follow(
    client: Client,
    run: RunStart[P],
    *,
    fingerprint: str | None,
    wait: float,
    conflict: str,
    details: dict[str, Any],
) -> Outcome[P]:
    # Refused by the reuse policy: the ID's run finished, and its answer is the answer.
    handle = (await start_or_attach(client, run)).handle
    try:
        outcome = await outcome_within(handle, run, seconds=wait)
    except WorkflowFailureError as err:
        # The workflows end failures with their progress as the error's details.
        progress = failure_of(err, run.result_type) or await progress_of(handle, run)
        outcome = Outcome(progress, finished=True)
    ensure_same_request(outcome.progress, fingerprint, message=conflict, details=details)
    return outcome


async def _progress(client: Client, workflow_id: str, query: str, model: type[P]) -> P | None:
    """What the newest run of `workflow_id` says, or None when there is none."""
    return await asyncio.wait_for(
        query_progress(client, workflow_id, query=query, result_type=model), timeout=10
    )
