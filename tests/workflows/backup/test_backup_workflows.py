"""BackupWorkflow and RestoreWorkflow on the time-skipping server with stand-in activities."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError, WorkflowHandle, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError, CancelledError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from tests.support.helpers import eventually
from tests.workflows.backup.fake_backup_activities import FakeBackupActivities, final_error
from tests.workflows.backup.record_backup_history import HISTORIES, RUNS, record
from workflows.backup.backup import BackupWorkflow
from workflows.backup.restore import RestoreWorkflow
from workflows.contracts.backup import (
    BACKUP_PROGRESS_QUERY,
    BACKUP_WORKFLOW,
    RESTORE_WORKFLOW,
    BackupActivity,
    BackupInput,
    BackupKind,
    BackupProgress,
    RestoreInput,
    RestoreMode,
    RestoreProgress,
    RestoreStatus,
    Retention,
)
from workflows.contracts.common import BACKUP_FAILED, RESTORE_FAILED

A = BackupActivity


@pytest.fixture
def fakes() -> FakeBackupActivities:
    return FakeBackupActivities()


@pytest.fixture
async def queue(
    time_skipping_env: WorkflowEnvironment, fakes: FakeBackupActivities
) -> AsyncIterator[str]:
    name = f"backup-{uuid.uuid4()}"
    async with Worker(
        time_skipping_env.client,
        task_queue=name,
        workflows=[BackupWorkflow, RestoreWorkflow],
        activities=fakes.all(),
        # Heartbeats carry cancellations; by default the SDK batches them for up to 80%
        # of the heartbeat timeout, which would make every cancel test wait that long.
        max_heartbeat_throttle_interval=timedelta(milliseconds=100),
    ):
        yield name


async def backup(
    env: WorkflowEnvironment, queue: str, inp: BackupInput, backup_id: str = ""
) -> WorkflowHandle[Any, BackupProgress]:
    backup_id = backup_id or f"b-{uuid.uuid4().hex[:8]}"
    return await env.client.start_workflow(
        BACKUP_WORKFLOW, inp, id=f"backup/{backup_id}", task_queue=queue, result_type=BackupProgress
    )


async def restore(
    env: WorkflowEnvironment, queue: str, inp: RestoreInput
) -> WorkflowHandle[Any, RestoreProgress]:
    restore_id = f"r-{uuid.uuid4().hex[:8]}"
    return await env.client.start_workflow(
        RESTORE_WORKFLOW,
        inp,
        id=f"restore/{restore_id}",
        task_queue=queue,
        result_type=RestoreProgress,
    )


KEEP_TWO = Retention(keep_last=2)


async def test_backup_exports_verifies_records_and_prunes(
    time_skipping_env: WorkflowEnvironment, queue: str, fakes: FakeBackupActivities
) -> None:
    handle = await backup(time_skipping_env, queue, BackupInput(retention=KEEP_TWO), "nightly")
    result = await handle.result()
    assert result.backup_id == "nightly"
    assert result.status == "completed"
    assert result.archive is not None
    assert result.archive.location == "s3://bucket/nightly.tar.gz"
    assert result.pruned == ["old-1"]
    assert fakes.calls == [
        A.RECORD_BACKUP,
        A.CREATE_BACKUP_ARCHIVE,
        A.VERIFY_BACKUP_ARCHIVE,
        A.RECORD_BACKUP,
        A.PRUNE_BACKUPS,
    ]
    assert fakes.statuses() == ["running", "completed"]
    assert fakes.backups[-1].archive == result.archive


async def test_no_retention_no_pruning(
    time_skipping_env: WorkflowEnvironment, queue: str, fakes: FakeBackupActivities
) -> None:
    await (await backup(time_skipping_env, queue, BackupInput())).result()
    assert A.PRUNE_BACKUPS not in fakes.calls


@pytest.mark.parametrize("failing", [A.CREATE_BACKUP_ARCHIVE, A.VERIFY_BACKUP_ARCHIVE])
async def test_failed_backup_discards_and_records(
    time_skipping_env: WorkflowEnvironment,
    queue: str,
    fakes: FakeBackupActivities,
    failing: BackupActivity,
) -> None:
    fakes.fail(failing)
    handle = await backup(time_skipping_env, queue, BackupInput(retention=KEEP_TWO))
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == BACKUP_FAILED
    details = BackupProgress.model_validate(cause.details[0])
    assert details.status == "failed"
    assert details.error_type == "StorageRejected"
    assert fakes.calls[-2:] == [A.DISCARD_BACKUP_ARCHIVE, A.RECORD_BACKUP]
    assert A.PRUNE_BACKUPS not in fakes.calls
    assert fakes.statuses() == ["running", "failed"]
    assert fakes.backups[-1].archive is None


async def test_pruning_failure_does_not_fail_the_backup(
    time_skipping_env: WorkflowEnvironment, queue: str, fakes: FakeBackupActivities
) -> None:
    fakes.fail(A.PRUNE_BACKUPS)
    result = await (
        await backup(time_skipping_env, queue, BackupInput(retention=KEEP_TWO))
    ).result()
    assert result.status == "completed"
    assert result.prune_error is not None
    assert result.pruned == []


async def test_cancelled_backup_discards_its_upload(
    time_skipping_env: WorkflowEnvironment, queue: str, fakes: FakeBackupActivities
) -> None:
    fakes.hang.add(A.CREATE_BACKUP_ARCHIVE)
    handle = await backup(time_skipping_env, queue, BackupInput())

    async def exporting() -> bool:
        progress = await handle.query(BACKUP_PROGRESS_QUERY, result_type=BackupProgress)
        return progress.stage == "export" and A.CREATE_BACKUP_ARCHIVE in fakes.calls

    await eventually(exporting)
    await handle.cancel()
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    assert isinstance(failure.value.cause, CancelledError)
    assert fakes.calls[-2:] == [A.DISCARD_BACKUP_ARCHIVE, A.RECORD_BACKUP]
    assert fakes.statuses() == ["running", "cancelled"]


# --- restore -------------------------------------------------------------------------


def restore_statuses(fakes: FakeBackupActivities) -> list[str]:
    return [progress.status.value for progress in fakes.restores]


async def test_dry_run_only_inspects(
    time_skipping_env: WorkflowEnvironment, queue: str, fakes: FakeBackupActivities
) -> None:
    handle = await restore(time_skipping_env, queue, RestoreInput(backup_id="b1", dry_run=True))
    result = await handle.result()
    assert result.status == RestoreStatus.COMPLETED
    assert result.plan is not None
    assert result.plan.changes[0].create == 2
    assert fakes.calls == [A.RECORD_RESTORE, A.INSPECT_BACKUP, A.RECORD_RESTORE]
    assert result.safety_backup_id is None


async def test_restore_takes_a_safety_backup_then_applies(
    time_skipping_env: WorkflowEnvironment, queue: str, fakes: FakeBackupActivities
) -> None:
    inp = RestoreInput(backup_id="b1", mode=RestoreMode.REPLACE, safety_retention=KEEP_TWO)
    handle = await restore(time_skipping_env, queue, inp)
    result = await handle.result()
    restore_id = handle.id.removeprefix("restore/")
    assert result.status == RestoreStatus.COMPLETED
    assert result.safety_backup_id == f"safety-{restore_id}"
    assert result.applied[0].create == 2
    assert fakes.calls[:2] == [A.RECORD_RESTORE, A.INSPECT_BACKUP]
    assert fakes.calls.index(A.CREATE_BACKUP_ARCHIVE) < fakes.calls.index(A.APPLY_BACKUP)
    safety = fakes.backups[-1]
    assert safety.kind == BackupKind.SAFETY
    assert safety.backup_id == f"safety-{restore_id}"
    assert safety.include == ("config", "devices")  # what the restore touches, no more
    assert [(a.backup_id, a.mode, a.sha256) for a in fakes.applied] == [
        ("b1", RestoreMode.REPLACE, "c" * 64)
    ]
    assert restore_statuses(fakes) == ["running", "completed"]


async def test_refused_archive_changes_nothing(
    time_skipping_env: WorkflowEnvironment, queue: str, fakes: FakeBackupActivities
) -> None:
    fakes.fail(A.INSPECT_BACKUP, "ChecksumMismatch")
    handle = await restore(time_skipping_env, queue, RestoreInput(backup_id="b1"))
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == RESTORE_FAILED
    progress = RestoreProgress.model_validate(cause.details[0])
    assert progress.status == RestoreStatus.FAILED
    assert progress.error_type == "ChecksumMismatch"
    assert A.APPLY_BACKUP not in fakes.calls
    assert A.CREATE_BACKUP_ARCHIVE not in fakes.calls  # no safety backup either


async def test_failed_safety_backup_changes_nothing(
    time_skipping_env: WorkflowEnvironment, queue: str, fakes: FakeBackupActivities
) -> None:
    fakes.fail(A.CREATE_BACKUP_ARCHIVE)
    handle = await restore(time_skipping_env, queue, RestoreInput(backup_id="b1"))
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    assert A.APPLY_BACKUP not in fakes.calls
    assert fakes.restores[-1].status == RestoreStatus.FAILED
    assert "safety backup" in (fakes.restores[-1].error or "")


def fail_first_apply(inp: Any) -> None:
    if not inp.backup_id.startswith("safety-"):
        raise final_error("apply", "RestoreConflict")


async def test_failure_while_applying_undoes_the_journal(
    time_skipping_env: WorkflowEnvironment, queue: str, fakes: FakeBackupActivities
) -> None:
    fakes.failures[A.APPLY_BACKUP] = fail_first_apply
    handle = await restore(time_skipping_env, queue, RestoreInput(backup_id="b1"))
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    restore_id = handle.id.removeprefix("restore/")
    progress = RestoreProgress.model_validate(failure.value.cause.details[0])  # type: ignore[union-attr]
    assert progress.status == RestoreStatus.ROLLED_BACK
    assert progress.rolled_back
    assert progress.error_type == "RestoreConflict"
    assert progress.rollback == fakes.rollback
    assert "1 of its changes were changed again by others" in (progress.error or "")
    # The apply journals under the restore's ID, and exactly that journal is undone:
    # the safety backup is never applied.
    assert [a.restore_id for a in fakes.applied] == [restore_id]
    assert [u.restore_id for u in fakes.undone] == [restore_id]
    assert restore_statuses(fakes) == ["running", "rolled_back"]
    assert fakes.restores[-1].rollback == fakes.rollback


async def test_failed_rollback_is_reported(
    time_skipping_env: WorkflowEnvironment, queue: str, fakes: FakeBackupActivities
) -> None:
    fakes.fail(A.APPLY_BACKUP, "RestoreConflict")
    fakes.fail(A.UNDO_RESTORE, "RestoreConflict")
    handle = await restore(time_skipping_env, queue, RestoreInput(backup_id="b1"))
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    last = fakes.restores[-1]
    assert last.status == RestoreStatus.FAILED
    assert not last.rolled_back
    assert f"the safety backup {last.safety_backup_id} holds the state" in (last.error or "")
    assert len(fakes.applied) == 1


async def test_cancel_while_applying_rolls_back(
    time_skipping_env: WorkflowEnvironment, queue: str, fakes: FakeBackupActivities
) -> None:
    fakes.hang.add(A.APPLY_BACKUP)
    handle = await restore(time_skipping_env, queue, RestoreInput(backup_id="b1"))

    async def applying() -> bool:
        return A.APPLY_BACKUP in fakes.calls

    await eventually(applying)
    await handle.cancel()
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    assert isinstance(failure.value.cause, CancelledError)
    last = fakes.restores[-1]
    assert last.status == RestoreStatus.CANCELLED
    assert last.rolled_back
    assert len(fakes.applied) == 1
    assert [u.restore_id for u in fakes.undone] == [handle.id.removeprefix("restore/")]


# --- determinism ---------------------------------------------------------------------


def replayer() -> Replayer:
    return Replayer(
        workflows=[BackupWorkflow, RestoreWorkflow], data_converter=pydantic_data_converter
    )


@pytest.mark.parametrize("name", sorted(RUNS))
async def test_recorded_history_replays(name: str) -> None:
    path = HISTORIES / f"{name}.json"
    text = await asyncio.to_thread(path.read_text)
    await replayer().replay_workflow(WorkflowHistory.from_json(RUNS[name][1], text))


@pytest.mark.parametrize("name", sorted(RUNS))
async def test_live_history_replays(time_skipping_env: WorkflowEnvironment, name: str) -> None:
    workflow, _, arg = RUNS[name]
    workflow_id = f"{RUNS[name][1]}-{uuid.uuid4().hex[:6]}"
    text = await record(
        time_skipping_env.client, workflow=workflow, workflow_id=workflow_id, arg=arg
    )
    await replayer().replay_workflow(WorkflowHistory.from_json(workflow_id, text))
