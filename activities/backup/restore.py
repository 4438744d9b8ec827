"""Restore activities: inspect (download, verify, plan), apply, record.

Both inspect and apply fetch and verify the archive themselves: the file lives in one
worker's scratch space, and apply may run elsewhere. Apply also insists on the sha256
that inspect saw, so an archive replaced in between is refused rather than applied
unchecked. Store rows change in one transaction; Kubernetes objects follow it. Given
a restore ID, apply journals every change (store/backup/journal.py) so that a failure
can be undone exactly (restore_undo.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor

from kubernetes import client
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.backup.common import Fetched, fetch_verified, final, locate, scratch_dir
from activities.backup.restore_apply import Selection, select_parts, table_changes
from activities.backup.restore_kube import kube_changes
from activities.heartbeat import Heartbeat
from activities.webhooks.emitter import WebhookEmitter
from adapters.archive.format import ArchiveError
from adapters.kubernetes.objects import KubeObjects
from adapters.storage.locations import StoreFactory
from store.backup import journal
from store.backup import records as backups
from store.db import sqlite_page_cache
from store.settings import Settings
from workflows.contracts.backup import (
    ApplyInput,
    ApplyResult,
    BackupActivity,
    InspectInput,
    PartChange,
    RestoreMode,
    RestorePlan,
    RestoreProgress,
    RestoreStatus,
    SkippedPart,
)
from workflows.contracts.common import BackupErrorType
from workflows.contracts.webhooks import WebhookEvent

# A restore writes every row of its tables and their indexes in one transaction, and with
# SQLite's default 2 MiB page cache its upserts kept re-reading index pages: 4.6 s against
# 4.0 s with 64 MiB for 300,000 rows (bench.backup's tables, three interleaved pairs).
# Only for the restore's transaction: a worker's pooled connections keep the default.
RESTORE_SQLITE_CACHE_KIB = 64 * 1024


class RestoreActivities:
    def __init__(
        self,
        *,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        kube_api: client.ApiClient | None,
        executor: Executor | None = None,
        webhooks: WebhookEmitter | None = None,
        stores: StoreFactory | None = None,
    ) -> None:
        self._settings = settings
        self._webhooks = webhooks
        self._sessions = sessions
        self._kube = KubeObjects(api_client=kube_api) if kube_api is not None else None
        self._executor = executor
        self._stores = stores or StoreFactory(settings=settings)

    @activity.defn(name=BackupActivity.INSPECT_BACKUP)
    async def inspect_backup(self, inp: InspectInput) -> RestorePlan:
        """Verify the archive and count what restoring it would change; changes nothing."""
        async with self._sessions() as session:
            record = await backups.get_backup(session, backup_id=inp.backup_id)
        where = locate(
            self._stores, backup_id=inp.backup_id, location=record.location if record else None
        )
        heartbeat = Heartbeat(executor=self._executor)
        try:
            async with scratch_dir(heartbeat, under=self._settings.backup_scratch_dir) as scratch:
                fetched = await fetch_verified(
                    where,
                    backup_id=inp.backup_id,
                    expected_sha256=record.sha256 if record else None,
                    scratch=scratch,
                    heartbeat=heartbeat,
                )
                selection = select_parts(fetched.archive, inp.include)
                changes = await self._changes(
                    fetched, selection, mode=inp.mode, heartbeat=heartbeat, write=False
                )
        finally:
            heartbeat.close()
        manifest = fetched.archive.manifest
        return RestorePlan(
            backup_id=inp.backup_id,
            location=where.url,
            sha256=fetched.sha256,
            size_bytes=fetched.size_bytes,
            format_version=manifest.format_version,
            archive_created_at=manifest.created_at,
            include=selection.include,
            changes=changes,
            skipped=[*manifest.skipped, *selection.skipped],
        )

    @activity.defn(name=BackupActivity.APPLY_BACKUP)
    async def apply_backup(self, inp: ApplyInput) -> ApplyResult:
        where = locate(self._stores, backup_id=inp.backup_id, location=inp.location)
        heartbeat = Heartbeat(executor=self._executor)
        try:
            async with scratch_dir(heartbeat, under=self._settings.backup_scratch_dir) as scratch:
                fetched = await fetch_verified(
                    where,
                    backup_id=inp.backup_id,
                    expected_sha256=inp.sha256,
                    scratch=scratch,
                    heartbeat=heartbeat,
                )
                selection = select_parts(fetched.archive, inp.include)
                changes = await self._changes(
                    fetched,
                    selection,
                    mode=inp.mode,
                    heartbeat=heartbeat,
                    write=True,
                    restore_id=inp.restore_id,
                )
        finally:
            heartbeat.close()
        activity.logger.info("restored backup %s (%s mode)", inp.backup_id, inp.mode.value)
        return ApplyResult(changes=changes)

    async def _changes(
        self,
        fetched: Fetched,
        selection: Selection,
        *,
        mode: RestoreMode,
        heartbeat: Heartbeat,
        write: bool,
        restore_id: str | None = None,
    ) -> list[PartChange]:
        archive = fetched.archive
        try:
            # One transaction for every table: all rows change, or none (closing the
            # session without a commit rolls back, which is all a dry run needs).
            async with self._sessions() as session:
                async with sqlite_page_cache(session, RESTORE_SQLITE_CACHE_KIB):
                    changes = await table_changes(
                        session,
                        selection,
                        archive,
                        mode=mode,
                        heartbeat=heartbeat,
                        write=write,
                        restore_id=restore_id,
                    )
                if write:
                    await session.commit()
        except ArchiveError as error:
            raise final(error) from None
        except IntegrityError as error:
            raise ApplicationError(
                f"the store refused the archive's rows: {str(error.orig).splitlines()[0]}",
                type=BackupErrorType.RESTORE_CONFLICT,
                non_retryable=True,
            ) from None
        for part, entry in selection.kube:
            if self._kube is None:
                reason = "no Kubernetes API is configured for this worker"
                selection.skipped.append(
                    SkippedPart(name=part.name, include=part.include, reason=reason)
                )
                continue
            try:
                changes.append(
                    await heartbeat.run(
                        kube_changes,
                        self._kube,
                        part,
                        entry,
                        archive,
                        namespaces={part.namespace_in(self._settings)},
                        mode=mode,
                        heartbeat=heartbeat,
                        write=write,
                        journal=self._kube_journal(restore_id),
                    )
                )
            except ArchiveError as error:
                raise final(error) from None
        return changes

    def _kube_journal(self, restore_id: str | None) -> Callable[[journal.Change], None] | None:
        """Journals one object change in its own transaction, from the thread pool."""
        if restore_id is None:
            return None
        loop = asyncio.get_running_loop()

        async def append(change: journal.Change) -> None:
            async with self._sessions() as session, session.begin():
                await journal.append(session, restore_id=restore_id, changes=[change])

        def journal_one(change: journal.Change) -> None:
            asyncio.run_coroutine_threadsafe(append(change), loop).result()

        return journal_one

    @activity.defn(name=BackupActivity.RECORD_RESTORE)
    async def record_restore(self, inp: RestoreProgress) -> None:
        async with self._sessions() as session, session.begin():
            await backups.save_restore(
                session,
                restore_id=inp.restore_id,
                backup_id=inp.backup_id,
                status=inp.status.value,
                dry_run=inp.dry_run,
                mode=inp.mode.value,
                workflow_id=inp.workflow_id,
                started_at=inp.started_at,
                finished_at=inp.finished_at,
                plan=inp.plan.model_dump(mode="json") if inp.plan else None,
                applied=[change.model_dump(mode="json") for change in inp.applied],
                safety_backup_id=inp.safety_backup_id,
                rolled_back=inp.rolled_back,
                rollback=inp.rollback.model_dump(mode="json") if inp.rollback else None,
                error_type=inp.error_type,
                error=inp.error,
            )
        if self._webhooks is not None and inp.status is RestoreStatus.COMPLETED:
            data = {
                "restore_id": inp.restore_id,
                "backup_id": inp.backup_id,
                "dry_run": inp.dry_run,
                "mode": inp.mode.value,
            }
            await self._webhooks.emit(WebhookEvent.RESTORE_COMPLETED, key=inp.restore_id, data=data)
