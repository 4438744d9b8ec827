"""BackupWorkflow: export → archive → upload → verify → record, then prune by retention.

A failure or cancellation anywhere between the start of the upload and a verified object
discards the archive [compensation: abort the multipart upload, delete the object], so
storage never holds a partial or unverified backup. The record (table `backups`) is
written when the run starts and again when it ends, however it ends. Pruning is last and
best effort: a backup that was made stays made even if old ones could not be removed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

from workflows.backup.steps import heavy, patiently
from workflows.contracts import summaries
from workflows.contracts.backup import (
    BACKUP_PROGRESS_QUERY,
    BACKUP_WORKFLOW,
    ArchiveInfo,
    ArchiveRef,
    BackupInput,
    BackupProgress,
    BackupRecordInput,
    BackupStatus,
    CreateArchiveInput,
    PruneInput,
    PruneResult,
    backup_id_from_workflow_id,
    create_backup_archive,
    discard_backup_archive,
    prune_backups,
    record_backup,
    verify_backup_archive,
)
from workflows.contracts.common import BACKUP_FAILED, STAGE


@workflow.defn(name=BACKUP_WORKFLOW)
class BackupWorkflow:
    @workflow.init
    def __init__(self, inp: BackupInput) -> None:
        info = workflow.info()
        self._progress = BackupProgress(
            backup_id=backup_id_from_workflow_id(info.workflow_id),
            kind=inp.kind,
            status=BackupStatus.RUNNING,
            stage="starting",
            include=inp.include,
            description=inp.description,
            fingerprint=inp.fingerprint,
            workflow_id=info.workflow_id,
            created_at=workflow.now(),
        )
        self._failed_stage = "export"
        self._schedule_id = inp.schedule_id

    @workflow.query(name=BACKUP_PROGRESS_QUERY)
    def progress(self) -> BackupProgress:
        return self._progress

    @workflow.run
    async def run(self, inp: BackupInput) -> BackupProgress:
        await self._record()
        try:
            archive = await self._make_archive(inp)
        except asyncio.CancelledError:
            await self._end(BackupStatus.CANCELLED, "cancelled", error="the backup was cancelled")
            raise
        except ActivityError as err:
            cause = err.cause or err
            error_type = cause.type if isinstance(cause, ApplicationError) else None
            message = cause.message if isinstance(cause, ApplicationError) else str(cause)
            await self._end(
                BackupStatus.FAILED, "failed", error=message, error_type=error_type or "Error"
            )
            raise ApplicationError(
                f"backup {self._progress.backup_id} failed at {self._failed_stage}: {message}",
                self._progress.model_dump(mode="json"),
                type=BACKUP_FAILED,
                non_retryable=True,
            ) from None
        self._update(archive=archive, status=BackupStatus.COMPLETED, completed_at=workflow.now())
        self._set_stage("record")
        await self._record()
        if inp.retention.prunes:
            await self._prune(inp)
        self._set_stage("done")
        return self._progress

    async def _make_archive(self, inp: BackupInput) -> ArchiveInfo:
        backup_id = self._progress.backup_id
        self._set_stage("export")
        try:
            archive: ArchiveInfo = await heavy(
                create_backup_archive,
                CreateArchiveInput(
                    backup_id=backup_id,
                    kind=inp.kind,
                    include=inp.include,
                    description=inp.description,
                    created_at=self._progress.created_at,
                ),
            )
            self._update(archive=archive)
            self._set_stage("verify")
            await heavy(
                verify_backup_archive,
                ArchiveRef(
                    backup_id=backup_id,
                    location=archive.location,
                    size_bytes=archive.size_bytes,
                    sha256=archive.sha256,
                ),
            )
        except ActivityError as err:
            self._failed_stage = self._progress.stage
            await self._discard()
            if is_cancelled_exception(err):
                raise asyncio.CancelledError from err
            raise
        except asyncio.CancelledError:
            await self._discard()
            raise
        return archive

    async def _discard(self) -> None:
        self._set_stage("discarding")
        archive = self._progress.archive
        ref = ArchiveRef(
            backup_id=self._progress.backup_id, location=archive.location if archive else None
        )
        await patiently(discard_backup_archive, ref)
        self._update(archive=None)

    async def _prune(self, inp: BackupInput) -> None:
        self._set_stage("prune")
        prune = PruneInput(
            schedule_id=inp.schedule_id,
            kind=inp.kind,
            retention=inp.retention,
            now=workflow.now(),
            keep=[self._progress.backup_id],
        )
        try:
            result: PruneResult = await heavy(prune_backups, prune)
        except ActivityError as err:
            cause = err.cause or err
            workflow.logger.warning("retention pruning failed: %s", cause)
            self._update(prune_error=str(cause))
            return
        self._update(pruned=result.pruned)

    async def _end(
        self, status: BackupStatus, stage: str, *, error: str, error_type: str | None = None
    ) -> None:
        self._update(status=status, error=error, error_type=error_type, completed_at=workflow.now())
        self._set_stage(stage)
        await self._record()

    async def _record(self) -> None:
        progress = self._progress
        record = BackupRecordInput(
            backup_id=progress.backup_id,
            kind=progress.kind,
            status=progress.status,
            include=progress.include,
            description=progress.description,
            workflow_id=progress.workflow_id,
            created_at=progress.created_at,
            completed_at=progress.completed_at,
            archive=progress.archive,
            error=progress.error,
            schedule_id=self._schedule_id,
        )
        await patiently(record_backup, record)

    def _update(self, **changes: Any) -> None:
        self._progress = self._progress.model_copy(update=changes)
        # Shown on the run's page in the Temporal UI; not part of its history.
        workflow.set_current_details(summaries.backup_details(self._progress))

    def _set_stage(self, stage: str) -> None:
        self._update(stage=stage)
        workflow.upsert_search_attributes([STAGE.value_set(stage)])
