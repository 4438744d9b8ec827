"""Start or attach to BackupWorkflow and RestoreWorkflow runs, and hear how they went.

IDs are business keys (`backup/{backup_id}`, `restore/{restore_id}`): the same request
again lands on the same run and gets the same answer; the same ID with another request is
a conflict (the run's fingerprint says which request started it). A run that failed may
be started again under its ID. Callers wait a bounded time for the end; a run still going
then is reported as it is so far.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

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


class RunConflict(Exception):
    """The ID belongs to a run started by another request."""


@dataclass(frozen=True)
class Run(Generic[P]):
    progress: P
    finished: bool


@dataclass(frozen=True)
class _Kind(Generic[P]):
    workflow: str
    query: str
    model: type[P]


_BACKUP = _Kind(BACKUP_WORKFLOW, BACKUP_PROGRESS_QUERY, BackupProgress)
_RESTORE = _Kind(RESTORE_WORKFLOW, RESTORE_PROGRESS_QUERY, RestoreProgress)


async def run_backup(
    client: Client, *, backup_id: str, inp: BackupInput, task_queue: str, wait: float
) -> Run[BackupProgress]:
    handle = await _start(
        client, _BACKUP, inp, workflow_id=backup_workflow_id(backup_id), task_queue=task_queue
    )
    return await _follow(handle, _BACKUP, fingerprint=inp.fingerprint, wait=wait)


async def run_restore(
    client: Client, *, restore_id: str, inp: RestoreInput, task_queue: str, wait: float
) -> Run[RestoreProgress]:
    handle = await _start(
        client, _RESTORE, inp, workflow_id=restore_workflow_id(restore_id), task_queue=task_queue
    )
    return await _follow(handle, _RESTORE, fingerprint=inp.fingerprint, wait=wait)


async def backup_progress(client: Client, *, backup_id: str) -> BackupProgress | None:
    return await _progress(client, _BACKUP, workflow_id=backup_workflow_id(backup_id))


async def restore_progress(client: Client, *, restore_id: str) -> RestoreProgress | None:
    return await _progress(client, _RESTORE, workflow_id=restore_workflow_id(restore_id))


async def _start(
    client: Client, kind: _Kind[P], inp: BaseModel, *, workflow_id: str, task_queue: str
) -> WorkflowHandle[Any, P]:
    try:
        return await client.start_workflow(
            kind.workflow,
            inp,
            id=workflow_id,
            task_queue=task_queue,
            result_type=kind.model,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            execution_timeout=RUN_TIMEOUT,
        )
    except WorkflowAlreadyStartedError:  # it finished: report that run
        return client.get_workflow_handle(workflow_id, result_type=kind.model)


async def _follow(
    handle: WorkflowHandle[Any, P], kind: _Kind[P], *, fingerprint: str | None, wait: float
) -> Run[P]:
    try:
        progress: P = await asyncio.wait_for(handle.result(), timeout=wait)
        finished = True
    except TimeoutError:
        progress = await handle.query(kind.query, result_type=kind.model)
        finished = False
    except WorkflowFailureError as err:
        progress = _from_failure(err, kind) or await handle.query(
            kind.query, result_type=kind.model
        )
        finished = True
    if fingerprint is not None and progress.fingerprint not in (None, fingerprint):
        raise RunConflict(f"{handle.id} was started by another request")
    return Run(progress=progress, finished=finished)


def _from_failure(err: WorkflowFailureError, kind: _Kind[P]) -> P | None:
    """The workflows end failures with their progress as the error's details."""
    cause = err.cause
    if isinstance(cause, ApplicationError) and cause.details:
        try:
            return kind.model.model_validate(cause.details[0])
        except ValidationError:
            return None
    return None


async def _progress(client: Client, kind: _Kind[P], *, workflow_id: str) -> P | None:
    """What the newest run of `workflow_id` says, or None when there is none."""
    handle = client.get_workflow_handle(workflow_id, result_type=kind.model)
    try:
        progress: P = await asyncio.wait_for(
            handle.query(kind.query, result_type=kind.model), timeout=10
        )
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    return progress
