"""RestoreWorkflow: verify → [enter maintenance] → safety backup → apply [undo what it
changed] → record → [leave maintenance].

A restore about to change something (a verified archive, not a dry run) runs inside a
maintenance window: it opens one unless one is open already, and closes it at the end
only if it opened it (activities in activities/maintenance/restore.py).

Verification downloads the archive, checks its sha256, its manifest's format version and
every part's sha256, and counts what would change; a refused archive changes nothing. A
dry run stops there and reports the counts. Otherwise a safety backup of the same parts
is taken (a child BackupWorkflow), then the archive is applied, journaling every row and
object it changes. When applying fails or is cancelled, that journal is undone: only what
the restore changed goes back, and what others wrote meanwhile stays (a change they made
to a row after the restore wrote it wins and is reported). The run ends `rolled_back`.
The safety backup stays, for recovery by hand; it is no longer applied automatically,
since applying it in replace mode deleted everything written while the restore ran.
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    ChildWorkflowError,
    FailureError,
    is_cancelled_exception,
)

from workflows.backup.steps import heavy, patiently
from workflows.contracts import summaries
from workflows.contracts.backup import (
    BACKUP_WORKFLOW,
    RESTORE_PROGRESS_QUERY,
    RESTORE_WORKFLOW,
    ApplyInput,
    ApplyResult,
    BackupInput,
    BackupKind,
    BackupProgress,
    InspectInput,
    RestoreInput,
    RestoreMode,
    RestorePlan,
    RestoreProgress,
    RestoreStatus,
    RollbackReport,
    UndoInput,
    apply_backup,
    backup_workflow_id,
    inspect_backup,
    record_restore,
    safety_backup_id,
    undo_restore,
)
from workflows.contracts.common import RESTORE_FAILED, STAGE
from workflows.contracts.maintenance import (
    LeaveInput,
    RestoreWindow,
    RestoreWindowInput,
    enter_maintenance_for_restore,
    leave_maintenance_after_restore,
)

# Runs that applied before this change wrote no journal: they keep the safety backup path.
JOURNAL_PATCH = "restore-undo-journal"
# Runs started before this change apply without a maintenance window of their own.
MAINTENANCE_PATCH = "restore-maintenance-window"


class _Refused(Exception):
    """A step before anything changed failed; the run ends `failed` (or `cancelled`)."""

    def __init__(self, status: RestoreStatus, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error_type, self.message = status, error_type, message


@workflow.defn(name=RESTORE_WORKFLOW)
class RestoreWorkflow:
    @workflow.init
    def __init__(self, inp: RestoreInput) -> None:
        info = workflow.info()
        self._progress = RestoreProgress(
            restore_id=info.workflow_id.removeprefix("restore/"),
            backup_id=inp.backup_id,
            status=RestoreStatus.RUNNING,
            stage="starting",
            dry_run=inp.dry_run,
            mode=inp.mode,
            fingerprint=inp.fingerprint,
            workflow_id=info.workflow_id,
            started_at=workflow.now(),
        )
        # The maintenance window this restore entered, once it has (see run).
        self._window: RestoreWindow | None = None

    @workflow.query(name=RESTORE_PROGRESS_QUERY)
    def progress(self) -> RestoreProgress:
        return self._progress

    @workflow.run
    async def run(self, inp: RestoreInput) -> RestoreProgress:
        await self._record()
        try:
            return await self._restore(inp)
        finally:
            window = self._window
            if window is not None and window.entered and window.run_id is not None:
                await patiently(
                    leave_maintenance_after_restore,
                    LeaveInput(restore_id=self._progress.restore_id, run_id=window.run_id),
                )

    async def _restore(self, inp: RestoreInput) -> RestoreProgress:
        try:
            plan = await self._verify(inp)
            if inp.dry_run:
                return await self._finish(RestoreStatus.COMPLETED)
            # A verified archive is about to change things: from here on inside maintenance
            # (runs started before maintenance mode existed never enter it).
            if workflow.patched(MAINTENANCE_PATCH):
                self._set_stage("maintenance")
                self._window = await patiently(
                    enter_maintenance_for_restore,
                    RestoreWindowInput(
                        restore_id=self._progress.restore_id, backup_id=inp.backup_id
                    ),
                )
            safety = await self._safety_backup(inp, plan)
        except _Refused as refused:
            await self._finish(refused.status, error_type=refused.error_type, error=refused.message)
            if refused.status is RestoreStatus.CANCELLED:
                raise asyncio.CancelledError from None
            raise self._failure() from None
        self._set_stage("apply")
        journaled = workflow.patched(JOURNAL_PATCH)
        try:
            applied: ApplyResult = await heavy(
                apply_backup,
                ApplyInput(
                    backup_id=inp.backup_id,
                    location=plan.location,
                    sha256=plan.sha256,
                    include=plan.include,
                    mode=inp.mode,
                    restore_id=self._progress.restore_id if journaled else None,
                ),
            )
        except (ActivityError, asyncio.CancelledError) as err:
            if journaled:
                await self._undo(safety, err)
            else:
                await self._roll_back(plan, safety, err)
            if self._progress.status is RestoreStatus.CANCELLED:
                raise asyncio.CancelledError from None
            raise self._failure() from None
        self._update(applied=applied.changes)
        return await self._finish(RestoreStatus.COMPLETED)

    async def _verify(self, inp: RestoreInput) -> RestorePlan:
        self._set_stage("verify")
        try:
            plan: RestorePlan = await heavy(
                inspect_backup,
                InspectInput(backup_id=inp.backup_id, include=inp.include, mode=inp.mode),
            )
        except (ActivityError, asyncio.CancelledError) as err:
            raise _refused(err, doing="verifying the archive") from None
        self._update(plan=plan)
        return plan

    async def _safety_backup(self, inp: RestoreInput, plan: RestorePlan) -> BackupProgress:
        self._set_stage("safety_backup")
        backup_id = safety_backup_id(self._progress.restore_id)
        self._update(safety_backup_id=backup_id)
        try:
            safety: BackupProgress = await workflow.execute_child_workflow(
                BACKUP_WORKFLOW,
                BackupInput(
                    kind=BackupKind.SAFETY,
                    include=plan.include,
                    retention=inp.safety_retention,
                    description=f"before restore {self._progress.restore_id} of {inp.backup_id}",
                    requested_by=inp.requested_by,
                ),
                id=backup_workflow_id(backup_id),
                static_summary=summaries.backup_summary(backup_id, BackupKind.SAFETY.value),
                result_type=BackupProgress,
            )
        except (ChildWorkflowError, asyncio.CancelledError) as err:
            raise _refused(err, doing="taking the safety backup") from None
        return safety

    async def _undo(self, safety: BackupProgress, err: BaseException) -> None:
        cancelled = isinstance(err, asyncio.CancelledError) or is_cancelled_exception(err)
        error_type, message = _describe(err)
        self._set_stage("rolling_back")
        try:
            report: RollbackReport = await patiently(
                undo_restore, UndoInput(restore_id=self._progress.restore_id), slow=True
            )
        except ActivityError as undo_err:
            _, undo_message = _describe(undo_err)
            message += (
                f"; undoing its changes failed too ({undo_message}): the safety backup "
                f"{safety.backup_id} holds the state before the restore"
            )
            status = RestoreStatus.CANCELLED if cancelled else RestoreStatus.FAILED
            await self._finish(status, error_type=error_type, error=message)
            return
        if report.kept:
            message += (
                f"; {report.kept} of its changes were changed again by others since and "
                "were left as they are (see rollback.kept_changes)"
            )
        self._update(rolled_back=True, rollback=report)
        status = RestoreStatus.CANCELLED if cancelled else RestoreStatus.ROLLED_BACK
        await self._finish(status, error_type=error_type, error=message)

    async def _roll_back(
        self, plan: RestorePlan, safety: BackupProgress, err: BaseException
    ) -> None:
        """Only for runs whose apply started before the journal existed (no JOURNAL_PATCH
        marker): there is nothing else to undo them with. Merge mode, never replace: it
        puts back what the failed attempt changed without deleting anything, so rows
        written meanwhile survive (rows the attempt created stay too)."""
        cancelled = isinstance(err, asyncio.CancelledError) or is_cancelled_exception(err)
        error_type, message = _describe(err)
        self._set_stage("rolling_back")
        assert safety.archive is not None  # a completed backup always has its archive
        rollback = ApplyInput(
            backup_id=safety.backup_id,
            location=safety.archive.location,
            sha256=safety.archive.sha256,
            include=plan.include,
            mode=RestoreMode.MERGE,
        )
        try:
            await patiently(apply_backup, rollback, slow=True)
        except ActivityError as rollback_err:
            _, rollback_message = _describe(rollback_err)
            message += (
                f"; putting the safety backup {safety.backup_id} back failed too "
                f"({rollback_message}): restore it by hand"
            )
            status = RestoreStatus.CANCELLED if cancelled else RestoreStatus.FAILED
            await self._finish(status, error_type=error_type, error=message)
            return
        self._update(rolled_back=True)
        status = RestoreStatus.CANCELLED if cancelled else RestoreStatus.ROLLED_BACK
        await self._finish(status, error_type=error_type, error=message)

    async def _finish(
        self, status: RestoreStatus, *, error_type: str | None = None, error: str | None = None
    ) -> RestoreProgress:
        self._update(status=status, error_type=error_type, error=error, finished_at=workflow.now())
        self._set_stage(status.value)
        await self._record()
        return self._progress

    def _failure(self) -> ApplicationError:
        progress = self._progress
        return ApplicationError(
            f"restore {progress.restore_id} of {progress.backup_id} ended {progress.status.value}: "
            f"{progress.error}",
            progress.model_dump(mode="json"),
            type=RESTORE_FAILED,
            non_retryable=True,
        )

    async def _record(self) -> None:
        await patiently(record_restore, self._progress)

    def _update(self, **changes: Any) -> None:
        self._progress = self._progress.model_copy(update=changes)

    def _set_stage(self, stage: str) -> None:
        self._update(stage=stage)
        workflow.upsert_search_attributes([STAGE.value_set(stage)])


def _refused(err: BaseException, *, doing: str) -> _Refused:
    if isinstance(err, asyncio.CancelledError) or is_cancelled_exception(err):
        return _Refused(RestoreStatus.CANCELLED, "Cancelled", f"cancelled while {doing}")
    error_type, message = _describe(err)
    return _Refused(RestoreStatus.FAILED, error_type, f"{doing}: {message}")


def _describe(err: BaseException) -> tuple[str, str]:
    """The innermost ApplicationError's type and message (activity or child failures)."""
    cause: BaseException | None = err
    while isinstance(cause, FailureError) and not isinstance(cause, ApplicationError):
        cause = cause.cause
    if isinstance(cause, ApplicationError):
        return cause.type or "ApplicationError", cause.message
    if isinstance(err, asyncio.CancelledError) or is_cancelled_exception(err):
        return "Cancelled", "cancelled"
    return type(err).__name__, str(err)
