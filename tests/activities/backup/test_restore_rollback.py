"""Rolling back a failed restore undoes what it changed and nothing else: the real
RestoreWorkflow and real activities against SQLite and PostgreSQL, the Kubernetes sandbox
and file:// storage. Only the apply activity is wrapped, to let another caller write
between the restore's changes and a failure forced after them."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.backup.parts import PARTS_BY_NAME, TablePart
from activities.backup.restore_undo import undo_object
from adapters.kubernetes.objects import KubeObjects
from store.backup import journal
from store.backup.row_undo import undo_row
from store.backup.table_dump import bind
from store.db import create_engine, session_factory
from store.devices import inventory as devices
from store.devices import tokens
from store.models import RestoreJournalRow
from tests.activities.backup.test_backup_restore import mutate
from tests.activities.backup_helpers import Rig, backup_settings
from tests.support.backup_inventory import T0, device_names, populate
from tests.support.storage_fixtures import Target
from tests.support.store_fixtures import migrate
from workflows.backup.backup import BackupWorkflow
from workflows.backup.restore import RestoreWorkflow
from workflows.contracts.backup import (
    RESTORE_WORKFLOW,
    ApplyInput,
    ApplyResult,
    BackupActivity,
    KeptChange,
    RestoreInput,
    RestoreMode,
    RestoreProgress,
    RestoreStatus,
)
from workflows.contracts.common import RESTORE_FAILED
from workflows.contracts.maintenance import (
    LeaveInput,
    MaintenanceActivity,
    RestoreWindow,
    RestoreWindowInput,
)

FORCED = "ForcedFailure"


@pytest.fixture
async def rig(
    tmp_path: Path,
    database_url: str,
    sessions: async_sessionmaker[AsyncSession],
    kube_sandbox_url: str,
) -> Rig:
    """SQLite and PostgreSQL; archives in a directory (storage is not what this tests)."""
    root = tmp_path / "backups"
    target = Target(kind="file", location=f"file://{root}", endpoint=None, root=root)
    settings = backup_settings(
        target, tmp_path=tmp_path, database_url=database_url, sandbox_url=kube_sandbox_url
    )
    return Rig.build(settings, sessions)


async def meanwhile(rig: Rig, prefix: str) -> None:
    """Another caller, while the restore runs: a device joins with its token, and a
    device the restore has just re-created is changed again."""
    async with rig.sessions() as session, session.begin():
        await devices.upsert_device(
            session, device_id=f"{prefix}-newcomer", node_name=f"{prefix}-n-new", status="joined"
        )
        await tokens.record_token(
            session,
            token_id=f"{prefix}-newcomer-token",
            token=f"token-{uuid.uuid4()}",
            node_name=f"{prefix}-n-new",
            device_id=f"{prefix}-newcomer",
            expires_at=T0 + timedelta(days=1),
        )
        recreated = device_names(prefix, 1)[0][0]
        await devices.set_status(session, device_id=recreated, status="joined", joined_at=T0)


def activities(rig: Rig, *, backup_id: str, prefix: str) -> list[Any]:
    @activity.defn(name=BackupActivity.APPLY_BACKUP)
    async def apply_then_fail(inp: ApplyInput) -> ApplyResult:
        result: ApplyResult = await rig.restore.apply_backup(inp)
        if inp.backup_id != backup_id:
            return result  # a safety backup being put back: let it through
        await meanwhile(rig, prefix)
        raise ApplicationError("failed after applying", type=FORCED, non_retryable=True)

    # The maintenance window a restore runs in is tested with it (tests/workflows/
    # maintenance); here the restore runs inside one an operator opened.
    @activity.defn(name=MaintenanceActivity.ENTER_FOR_RESTORE)
    async def inside_an_open_window(inp: RestoreWindowInput) -> RestoreWindow:
        return RestoreWindow(entered=False)

    @activity.defn(name=MaintenanceActivity.LEAVE_AFTER_RESTORE)
    async def leave_nothing(inp: LeaveInput) -> None:
        raise AssertionError("a restore inside someone else's window never closes it")

    return [
        inside_an_open_window,
        leave_nothing,
        rig.backup.create_backup_archive,
        rig.backup.verify_backup_archive,
        rig.backup.discard_backup_archive,
        rig.backup.record_backup,
        rig.backup.prune_backups,
        rig.restore.inspect_backup,
        apply_then_fail,
        rig.restore.record_restore,
        rig.undo.undo_restore,
    ]


def without(rows: list[dict[str, Any]], key: str, *values: str) -> list[dict[str, Any]]:
    return [row for row in rows if row[key] not in values]


async def test_rollback_keeps_what_others_wrote_meanwhile(
    rig: Rig, time_skipping_env: WorkflowEnvironment
) -> None:
    prefix = uuid.uuid4().hex[:6]
    backup_id = f"before-{prefix}"
    await populate(rig.sessions, settings=rig.settings, kube=rig.kube, prefix=prefix)
    await rig.make_backup(backup_id)
    # The restore will re-create two devices and a ConfigMap, change config and a Device,
    # and (replace mode) delete a stranger device and its ConfigMap.
    await mutate(rig, prefix)
    before = await rig.picture()

    queue = f"rollback-{uuid.uuid4()}"
    async with Worker(
        time_skipping_env.client,
        task_queue=queue,
        workflows=[BackupWorkflow, RestoreWorkflow],
        activities=activities(rig, backup_id=backup_id, prefix=prefix),
    ):
        handle = await time_skipping_env.client.start_workflow(
            RESTORE_WORKFLOW,
            RestoreInput(backup_id=backup_id, mode=RestoreMode.REPLACE),
            id=f"restore/r-{prefix}",
            task_queue=queue,
        )
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()

    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == RESTORE_FAILED
    progress = RestoreProgress.model_validate(cause.details[0])
    assert progress.status == RestoreStatus.ROLLED_BACK
    assert progress.error_type == FORCED
    recreated = device_names(prefix, 1)[0][0]
    assert progress.rollback is not None
    assert progress.rollback.kept_changes == [KeptChange(part="devices", key=[recreated])]
    assert progress.rollback.kept == 1

    after = await rig.picture()
    # What others wrote while the restore ran survives the rollback...
    assert f"{prefix}-newcomer" in {row["device_id"] for row in after["devices"]}
    assert f"{prefix}-newcomer-token" in {row["token_id"] for row in after["join_tokens"]}
    changed = next(row for row in after["devices"] if row["device_id"] == recreated)
    assert changed["status"] == "joined"  # changed by them after the restore re-created it
    # ...and everything else the restore changed is back as it was: rows it created are
    # gone, rows it updated or deleted are back, and so are the Kubernetes objects.
    others = (f"{prefix}-newcomer", recreated)
    assert without(after["devices"], "device_id", *others) == before["devices"]
    assert (
        without(after["join_tokens"], "token_id", f"{prefix}-newcomer-token")
        == before["join_tokens"]
    )
    assert after["runtime_config"] == before["runtime_config"]
    assert after["kubernetes"] == before["kubernetes"]


async def journal_ids(rig: Rig, restore_id: str) -> list[int]:
    async with rig.sessions() as session:
        stmt = select(RestoreJournalRow.id).where(RestoreJournalRow.restore_id == restore_id)
        return list(await session.scalars(stmt))


async def test_rollback_is_idempotent_across_retries_and_crashes(
    tmp_path: Path, kube_sandbox_url: str
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'edgewright.db'}"
    await migrate(url)
    root = tmp_path / "backups"
    target = Target(kind="file", location=f"file://{root}", endpoint=None, root=root)
    settings = backup_settings(
        target, tmp_path=tmp_path, database_url=url, sandbox_url=kube_sandbox_url
    )
    rig = Rig.build(settings, session_factory(create_engine(url)))
    prefix = uuid.uuid4().hex[:6]
    await populate(rig.sessions, settings=rig.settings, kube=rig.kube, prefix=prefix)
    await rig.make_backup("idem")
    await mutate(rig, prefix)
    before = await rig.picture()
    plan = await rig.inspect("idem")

    # The apply activity retried after its store transaction committed: the second
    # attempt finds nothing left to change and journals nothing more.
    await rig.apply(plan, restore_id="r-idem")
    entries = await journal_ids(rig, "r-idem")
    await rig.apply(plan, restore_id="r-idem")
    assert await journal_ids(rig, "r-idem") == entries
    assert await rig.picture() != before

    # A worker that crashed after undoing the three newest entries, each in its own
    # transaction with its mark (the activity's first steps, newest first)...
    async with rig.sessions() as session:
        first = await journal.pending(session, restore_id="r-idem", limit=3)
    for entry in first:
        part = PARTS_BY_NAME[entry.part]
        async with rig.sessions() as session, session.begin():
            if isinstance(part, TablePart):
                bound = await bind(session, part.spec)
                assert not isinstance(bound, str)
                await undo_row(session, bound, entry)
            else:
                outcome = undo_object(KubeObjects(api_client=rig.kube.api_client), part, entry)
                await journal.settle(session, entry_id=entry.entry_id, outcome=outcome)
    # ...then the activity retried: it carries on, and undoes nothing twice.
    report = await rig.roll_back("r-idem")
    assert await rig.picture() == before
    assert (report.restored, report.unchanged, report.kept) == (len(entries), 0, 0)

    # Retried once more (its result lost): nothing left to do, the same report.
    assert await rig.roll_back("r-idem") == report
    assert await rig.picture() == before
