"""Record BackupWorkflow and RestoreWorkflow histories for the replay tests.

`python -m tests.workflows.backup.record_backup_history [names]` runs a completed backup
and a restore whose apply fails and is undone from its journal, on the time-skipping
server with stand-in activities, and writes their histories to tests/workflows/histories/.
Re-record only on purpose: a history that no longer replays means a change would break
runs in flight. `restore_rolled_back` was recorded before restores kept an undo journal
(it rolled back by applying the safety backup): it is what keeps that path replayable,
so it is never re-recorded unless named; nor is `restore_undone`, which predates restores
opening a maintenance window (`restore_in_maintenance` is the current path).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import sysconfig
import uuid
from pathlib import Path

from temporalio.client import Client, WorkflowFailureError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.workflows.backup.fake_backup_activities import FakeBackupActivities, final_error
from workflows.backup.backup import BackupWorkflow
from workflows.backup.restore import RestoreWorkflow
from workflows.contracts.backup import (
    BACKUP_WORKFLOW,
    RESTORE_WORKFLOW,
    BackupActivity,
    BackupInput,
    RestoreInput,
    Retention,
)
from workflows.contracts.common import SEARCH_ATTRIBUTES

HISTORIES = Path(__file__).parents[1] / "histories"


def rolled_back_fakes() -> FakeBackupActivities:
    fakes = FakeBackupActivities()

    def fail_first_apply(inp: object) -> None:
        if not str(getattr(inp, "backup_id", "")).startswith("safety-"):
            raise final_error("apply", "RestoreConflict")

    fakes.failures[BackupActivity.APPLY_BACKUP] = fail_first_apply
    return fakes


async def record(client: Client, *, workflow: str, workflow_id: str, arg: object) -> str:
    """Run one workflow to its end on `client` and return its history as JSON."""
    queue = f"record-{uuid.uuid4()}"
    fakes = rolled_back_fakes()
    async with Worker(
        client,
        task_queue=queue,
        workflows=[BackupWorkflow, RestoreWorkflow],
        activities=fakes.all(),
    ):
        handle = await client.start_workflow(workflow, arg, id=workflow_id, task_queue=queue)
        with contextlib.suppress(WorkflowFailureError):
            await handle.result()
        history = await handle.fetch_history()
    return history.to_json()


RUNS = {
    "backup_completed": (
        BACKUP_WORKFLOW,
        "backup/nightly",
        BackupInput(retention=Retention(keep_last=2)),
    ),
    "restore_rolled_back": (RESTORE_WORKFLOW, "restore/r1", RestoreInput(backup_id="nightly")),
    "restore_undone": (RESTORE_WORKFLOW, "restore/r2", RestoreInput(backup_id="nightly")),
    "restore_in_maintenance": (RESTORE_WORKFLOW, "restore/r3", RestoreInput(backup_id="nightly")),
}
# Recorded on code that no longer exists; re-recording would lose what it guards
# (`restore_undone` is a restore from before restores opened a maintenance window).
LEGACY = {"restore_rolled_back", "restore_undone"}


async def main(names: list[str]) -> None:
    from tests.support.temporal_fixtures import register_search_attributes

    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=str(Path(sysconfig.get_path("scripts")) / "temporal-test-server"),
    )
    await register_search_attributes(env.client, SEARCH_ATTRIBUTES)
    try:
        for name in names or sorted(set(RUNS) - LEGACY):
            workflow, workflow_id, arg = RUNS[name]
            text = await record(env.client, workflow=workflow, workflow_id=workflow_id, arg=arg)
            (HISTORIES / f"{name}.json").write_text(text)
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
    os._exit(0)
