"""Backup activities: make an archive and upload it, verify it, discard it, record, prune.

Export, archive and upload are one activity because the archive is a file in this
worker's scratch space: split over activities, the next step could land on another
worker. Blocking work (files, boto3, the Kubernetes client) runs in the worker's thread
pool; progress heartbeats, and a cancelled upload is stopped and cleaned up.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import Executor

from kubernetes import client
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.backup.common import Located, locate, scratch_dir
from activities.backup.export import export_parts
from activities.heartbeat import Heartbeat
from activities.webhooks.emitter import WebhookEmitter
from adapters.archive.writer import ArchiveWriter
from adapters.kubernetes.objects import KubeObjects
from adapters.storage.locations import Progress, StoreFactory, archive_name
from store.backup import records as backups
from store.settings import Settings
from workflows.contracts.backup import (
    BACKUP_FORMAT_VERSION,
    ArchiveInfo,
    ArchiveRef,
    BackupActivity,
    BackupRecordInput,
    BackupStatus,
    CreateArchiveInput,
    PruneInput,
    PruneResult,
)
from workflows.contracts.common import BackupErrorType
from workflows.contracts.webhooks import WebhookEvent

# The final states a webhook hears of (a cancelled backup is neither).
BACKUP_EVENTS = {
    BackupStatus.COMPLETED: WebhookEvent.BACKUP_COMPLETED,
    BackupStatus.FAILED: WebhookEvent.BACKUP_FAILED,
}


class BackupActivities:
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
        self.heartbeat_seconds = 1.0  # how often progress may heartbeat, at most

    def _heartbeat(self) -> Heartbeat:
        return Heartbeat(executor=self._executor, every_seconds=self.heartbeat_seconds)

    @activity.defn(name=BackupActivity.CREATE_BACKUP_ARCHIVE)
    async def create_backup_archive(self, inp: CreateArchiveInput) -> ArchiveInfo:
        heartbeat = self._heartbeat()
        where = Located(self._stores.get(), archive_name(inp.backup_id))
        try:
            # A crashed earlier attempt may have left a multipart upload open.
            await heartbeat.run(where.store.abort_uploads, name=where.name)
            async with scratch_dir(heartbeat, under=self._settings.backup_scratch_dir) as scratch:
                manifest_fields = {
                    "backup_id": inp.backup_id,
                    "kind": inp.kind.value,
                    "created_at": inp.created_at.isoformat(),
                    "include": [item.value for item in inp.include],
                    "description": inp.description,
                    "producer": "edgewright",
                }
                writer = ArchiveWriter(scratch=scratch, manifest=manifest_fields)
                parts = await export_parts(
                    writer=writer,
                    include=inp.include,
                    sessions=self._sessions,
                    kube=self._kube,
                    settings=self._settings,
                    heartbeat=heartbeat,
                )
                target = scratch / where.name
                manifest, sha256, size = await heartbeat.run(
                    writer.finish, target=target, beat=heartbeat.counter("archived")
                )
                metadata = {
                    "sha256": sha256,
                    "backup-id": inp.backup_id,
                    "format-version": str(BACKUP_FORMAT_VERSION),
                }
                multipart = await heartbeat.run(
                    where.store.upload,
                    path=target,
                    name=where.name,
                    metadata=metadata,
                    progress=heartbeat.counter("uploaded"),
                )
        except BaseException:
            # Failed or cancelled: whatever may have reached storage goes (a finished
            # small upload, or the parts of an aborted multipart upload). Should storage
            # be down now, the workflow's compensation tries again, patiently.
            try:
                await self._discard(where, heartbeat=self._heartbeat())
            except Exception:
                activity.logger.warning("could not discard %s yet", where.url, exc_info=True)
            raise
        finally:
            heartbeat.close()
        activity.logger.info("backup %s uploaded to %s (%d bytes)", inp.backup_id, where.url, size)
        return ArchiveInfo(
            backup_id=inp.backup_id,
            location=where.url,
            size_bytes=size,
            sha256=sha256,
            format_version=manifest.format_version,
            multipart=multipart,
            parts=parts,
            skipped=manifest.skipped,
        )

    @activity.defn(name=BackupActivity.VERIFY_BACKUP_ARCHIVE)
    async def verify_backup_archive(self, inp: ArchiveRef) -> None:
        """What landed is what was made: size and sha256 metadata, and by default (setting
        backup_verify=download) the sha256 of the bytes read back."""
        heartbeat = self._heartbeat()
        where = locate(self._stores, backup_id=inp.backup_id, location=inp.location)
        try:
            head = await heartbeat.run(where.store.head, name=where.name)
            if head is None:
                raise _unverified(f"{where.url} is not there after its upload")
            if head.size != inp.size_bytes:
                raise _unverified(f"{where.url} has {head.size} bytes, not {inp.size_bytes}")
            if head.metadata.get("sha256") != inp.sha256:
                raise _unverified(f"{where.url} carries another sha256 than the one uploaded")
            if self._settings.backup_verify == "download":
                digest = await heartbeat.run(
                    _sha256_of, where, progress=heartbeat.counter("verified")
                )
                if digest != inp.sha256:
                    raise _unverified(f"{where.url} reads back with another sha256")
        finally:
            heartbeat.close()

    @activity.defn(name=BackupActivity.DISCARD_BACKUP_ARCHIVE)
    async def discard_backup_archive(self, inp: ArchiveRef) -> None:
        where = locate(self._stores, backup_id=inp.backup_id, location=inp.location)
        await self._discard(where, heartbeat=self._heartbeat())

    async def _discard(self, where: Located, *, heartbeat: Heartbeat) -> None:
        try:
            aborted = await heartbeat.run(where.store.abort_uploads, name=where.name)
            await heartbeat.run(where.store.delete, name=where.name)
        finally:
            heartbeat.close()
        activity.logger.info("discarded %s (%d unfinished uploads aborted)", where.url, aborted)

    @activity.defn(name=BackupActivity.RECORD_BACKUP)
    async def record_backup(self, inp: BackupRecordInput) -> None:
        archive = inp.archive
        contents = {}
        if archive is not None:
            contents = {
                "parts": [part.model_dump(mode="json") for part in archive.parts],
                "skipped": [part.model_dump(mode="json") for part in archive.skipped],
            }
        async with self._sessions() as session, session.begin():
            await backups.save_backup(
                session,
                backup_id=inp.backup_id,
                kind=inp.kind.value,
                status=inp.status.value,
                include=[item.value for item in inp.include],
                description=inp.description,
                workflow_id=inp.workflow_id,
                created_at=inp.created_at,
                completed_at=inp.completed_at,
                location=archive.location if archive else None,
                size_bytes=archive.size_bytes if archive else None,
                sha256=archive.sha256 if archive else None,
                format_version=archive.format_version if archive else None,
                multipart=archive.multipart if archive else False,
                contents=contents,
                schedule_id=inp.schedule_id,
                error=inp.error,
            )
        event = BACKUP_EVENTS.get(inp.status)
        if self._webhooks is not None and event is not None:
            data = {
                "backup_id": inp.backup_id,
                "kind": inp.kind.value,
                "status": inp.status.value,
                "size_bytes": archive.size_bytes if archive else None,
                "schedule_id": inp.schedule_id,
                "error": inp.error,
            }
            await self._webhooks.emit(event, key=inp.backup_id, data=data)

    @activity.defn(name=BackupActivity.PRUNE_BACKUPS)
    async def prune_backups(self, inp: PruneInput) -> PruneResult:
        """Delete the archives retention no longer keeps, then mark their records pruned
        (in that order, so a retry after a crash deletes again rather than forgets)."""
        async with self._sessions() as session:
            rows = await backups.completed_backups(
                session, kind=inp.kind.value, schedule_id=inp.schedule_id
            )
        doomed = backups.prunable(
            [(row.backup_id, row.created_at) for row in rows],
            keep_last=inp.retention.keep_last,
            keep_days=inp.retention.keep_days,
            now=inp.now,
            keep=inp.keep,
        )
        locations = {row.backup_id: row.location for row in rows}
        heartbeat = self._heartbeat()
        try:
            for backup_id in doomed:
                where = locate(self._stores, backup_id=backup_id, location=locations[backup_id])
                await heartbeat.run(where.store.delete, name=where.name)
                async with self._sessions() as session, session.begin():
                    await backups.mark_pruned(session, backup_id=backup_id)
                heartbeat.beat(pruned=backup_id)
        finally:
            heartbeat.close()
        if doomed:
            activity.logger.info("retention pruned %s", ", ".join(doomed))
        return PruneResult(pruned=doomed)


def _sha256_of(where: Located, *, progress: Progress) -> str:
    digest = hashlib.sha256()
    for chunk in where.store.read(name=where.name, progress=progress):
        digest.update(chunk)
    return digest.hexdigest()


def _unverified(problem: str) -> ApplicationError:
    return ApplicationError(
        f"verification failed: {problem}",
        type=BackupErrorType.CHECKSUM_MISMATCH,
        non_retryable=True,
    )
