"""A restore runs inside maintenance: RestoreWorkflow with stand-in activities enters a
window before it changes anything and leaves it at the end, only if it entered it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.workflows.backup.fake_backup_activities import FakeBackupActivities
from workflows.backup.backup import BackupWorkflow
from workflows.backup.restore import RestoreWorkflow
from workflows.contracts.backup import (
    RESTORE_WORKFLOW,
    BackupActivity,
    RestoreInput,
    RestoreProgress,
    RestoreStatus,
)


@pytest.fixture
def fakes() -> FakeBackupActivities:
    return FakeBackupActivities()


@pytest.fixture
async def queue(
    time_skipping_env: WorkflowEnvironment, fakes: FakeBackupActivities
) -> AsyncIterator[str]:
    name = f"restore-window-{uuid.uuid4()}"
    async with Worker(
        time_skipping_env.client,
        task_queue=name,
        workflows=[BackupWorkflow, RestoreWorkflow],
        activities=fakes.all(),
    ):
        yield name


async def run_restore(env: WorkflowEnvironment, queue: str, inp: RestoreInput) -> Any:
    restore_id = f"r-{uuid.uuid4().hex[:8]}"
    handle = await env.client.start_workflow(
        RESTORE_WORKFLOW,
        inp,
        id=f"restore/{restore_id}",
        task_queue=queue,
        result_type=RestoreProgress,
    )
    return restore_id, handle


async def test_restore_enters_before_changing_and_leaves_its_own_window(
    time_skipping_env: WorkflowEnvironment, queue: str, fakes: FakeBackupActivities
) -> None:
    restore_id, handle = await run_restore(time_skipping_env, queue, RestoreInput(backup_id="b1"))
    result = await handle.result()
    assert result.status is RestoreStatus.COMPLETED
    assert fakes.window_calls == ["enter", f"leave window-of-{restore_id}"]


async def test_a_restore_inside_an_open_window_leaves_it_open(
    time_skipping_env: WorkflowEnvironment, queue: str, fakes: FakeBackupActivities
) -> None:
    fakes.window_open_already = True
    _, handle = await run_restore(time_skipping_env, queue, RestoreInput(backup_id="b1"))
    assert (await handle.result()).status is RestoreStatus.COMPLETED
    assert fakes.window_calls == ["enter"]


async def test_a_failed_restore_leaves_its_window_too(
    time_skipping_env: WorkflowEnvironment, queue: str, fakes: FakeBackupActivities
) -> None:
    fakes.fail(BackupActivity.APPLY_BACKUP, "RestoreConflict")
    restore_id, handle = await run_restore(time_skipping_env, queue, RestoreInput(backup_id="b1"))
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    assert BackupActivity.UNDO_RESTORE.value in fakes.calls  # rolled back inside the window
    assert fakes.window_calls == ["enter", f"leave window-of-{restore_id}"]


async def test_a_dry_run_changes_nothing_and_needs_no_window(
    time_skipping_env: WorkflowEnvironment, queue: str, fakes: FakeBackupActivities
) -> None:
    _, handle = await run_restore(
        time_skipping_env, queue, RestoreInput(backup_id="b1", dry_run=True)
    )
    assert (await handle.result()).status is RestoreStatus.COMPLETED
    assert fakes.window_calls == []
