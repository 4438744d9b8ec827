"""Building blocks for the backup activity tests: a wired-up set of real components."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import ActivityEnvironment

from activities.backup.backup import BackupActivities
from activities.backup.restore import RestoreActivities
from activities.backup.restore_undo import RestoreUndoActivities
from adapters.kubernetes.client import KubeTarget, connect_kube
from adapters.storage.locations import ObjectStore, StoreFactory, archive_name
from store.settings import KubeMode, Settings
from tests.support.backup_inventory import picture
from tests.support.storage_fixtures import Target, settings_for
from workflows.contracts.backup import (
    ALL_INCLUDES,
    ApplyInput,
    ArchiveInfo,
    ArchiveRef,
    BackupKind,
    BackupRecordInput,
    BackupStatus,
    CreateArchiveInput,
    InspectInput,
    RestoreMode,
    RestorePlan,
    RollbackReport,
    UndoInput,
)


def backup_settings(
    target: Target, *, tmp_path: Path, database_url: str, sandbox_url: str, **extra: object
) -> Settings:
    # Namespaces of their own: the sandbox is shared by the whole session.
    tag = uuid.uuid4().hex[:8]
    return settings_for(
        target,
        data_dir=tmp_path,
        database_url=database_url,
        kube_mode=KubeMode.SANDBOX,
        sandbox_url=sandbox_url,
        kubeedge_namespace=f"ke-{tag}",
        device_namespace=f"dev-{tag}",
        backup_keep_last=0,
        backup_keep_days=0,
        **extra,
    )


@dataclass
class Rig:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    kube: KubeTarget
    backup: BackupActivities
    restore: RestoreActivities
    undo: RestoreUndoActivities
    env: ActivityEnvironment

    @classmethod
    def build(cls, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> Rig:
        kube = connect_kube(settings)
        return cls(
            settings=settings,
            sessions=sessions,
            kube=kube,
            backup=BackupActivities(settings=settings, sessions=sessions, kube_api=kube.api_client),
            restore=RestoreActivities(
                settings=settings, sessions=sessions, kube_api=kube.api_client
            ),
            undo=RestoreUndoActivities(sessions=sessions, kube_api=kube.api_client),
            env=ActivityEnvironment(),
        )

    @property
    def store(self) -> ObjectStore:
        return StoreFactory(settings=self.settings).get()

    async def picture(self) -> dict[str, Any]:
        return await picture(self.sessions, settings=self.settings, api_client=self.kube.api_client)

    async def make_backup(self, backup_id: str, *, record: bool = True) -> ArchiveInfo:
        created = CreateArchiveInput(
            backup_id=backup_id,
            kind=BackupKind.MANUAL,
            include=ALL_INCLUDES,
            created_at=datetime.now(UTC),
        )
        info: ArchiveInfo = await self.env.run(self.backup.create_backup_archive, created)
        ref = ArchiveRef(
            backup_id=backup_id,
            location=info.location,
            size_bytes=info.size_bytes,
            sha256=info.sha256,
        )
        await self.env.run(self.backup.verify_backup_archive, ref)
        if record:
            await self.record(info)
        return info

    async def record(self, info: ArchiveInfo) -> None:
        await self.env.run(
            self.backup.record_backup,
            BackupRecordInput(
                backup_id=info.backup_id,
                kind=BackupKind.MANUAL,
                status=BackupStatus.COMPLETED,
                include=ALL_INCLUDES,
                workflow_id=f"backup/{info.backup_id}",
                created_at=datetime.now(UTC),
                completed_at=datetime.now(UTC),
                archive=info,
            ),
        )

    async def inspect(
        self, backup_id: str, *, mode: RestoreMode = RestoreMode.REPLACE
    ) -> RestorePlan:
        plan: RestorePlan = await self.env.run(
            self.restore.inspect_backup, InspectInput(backup_id=backup_id, mode=mode)
        )
        return plan

    async def apply(
        self,
        plan: RestorePlan,
        *,
        mode: RestoreMode = RestoreMode.REPLACE,
        restore_id: str | None = None,
    ) -> Any:
        return await self.env.run(
            self.restore.apply_backup,
            ApplyInput(
                backup_id=plan.backup_id,
                location=plan.location,
                sha256=plan.sha256,
                include=plan.include,
                mode=mode,
                restore_id=restore_id,
            ),
        )

    async def roll_back(self, restore_id: str) -> RollbackReport:
        report: RollbackReport = await self.env.run(
            self.undo.undo_restore, UndoInput(restore_id=restore_id)
        )
        return report

    def put_raw(self, backup_id: str, data: bytes, tmp_path: Path, *, sha256: bool = True) -> None:
        """Store arbitrary bytes as the archive of `backup_id` (optionally with its sha256)."""
        path = tmp_path / f"raw-{uuid.uuid4().hex}"
        path.write_bytes(data)
        metadata = {"sha256": hashlib.sha256(data).hexdigest()} if sha256 else {}
        self.store.upload(
            path=path, name=archive_name(backup_id), metadata=metadata, progress=lambda _: None
        )


def tar_gz(members: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


CONFIG_ROW = b'{"key":"runtime","updated_at":"2026-01-15T10:30:00+00:00","value":{}}\n'


def crafted_archive(name: str, *, part: bytes = CONFIG_ROW, **manifest_changes: Any) -> bytes:
    """A well-formed archive of config rows (one by default), with manifest fields
    overridden."""
    manifest: dict[str, Any] = {
        "format": "edgewright-backup",
        "format_version": 1,
        "backup_id": name,
        "kind": "manual",
        "created_at": "2026-01-15T10:30:00+00:00",
        "include": ["config"],
        "parts": [
            {
                "name": "config",
                "include": "config",
                "source": "table",
                "file": "parts/config.jsonl",
                "count": part.count(b"\n"),
                "bytes": len(part),
                "sha256": hashlib.sha256(part).hexdigest(),
            }
        ],
        **manifest_changes,
    }
    return tar_gz([("manifest.json", json.dumps(manifest).encode()), ("parts/config.jsonl", part)])
