"""What the backup endpoints answer: the seed's fields first, then ours.

A backup is described the same way whether it comes from its record (table `backups`) or,
before the record exists, from its run. `status` is the seed's "success" (the request
worked; "accepted" when a POST answers before the run ended); `backup_status` is where
the backup itself stands.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from api.core.humanize import human_size
from api.core.links import temporal_ui_link
from api.core.pagination import Pagination
from store.models import BackupRow, RestoreRow
from store.settings import Settings
from workflows.contracts.backup import (
    BackupInclude,
    BackupKind,
    BackupProgress,
    BackupStatus,
    PartChange,
    PartSummary,
    RestoreMode,
    RestorePlan,
    RestoreProgress,
    RestoreStatus,
    RollbackReport,
    SkippedPart,
    backup_workflow_id,
    restore_workflow_id,
)


class BackupView(BaseModel):
    status: str = Field(description='"success"; "accepted" when a POST answers 202')
    backup_id: str
    size: str | None = Field(description='Archive size as the seed writes it, e.g. "45MB"')
    location: str | None = Field(description="Where the archive is (s3://… or file://…)")
    created_at: datetime
    # ours
    backup_status: BackupStatus
    kind: BackupKind
    schedule_id: str | None = Field(default=None, description="For scheduled backups")
    include: list[BackupInclude]
    description: str | None
    size_bytes: int | None
    sha256: str | None
    format_version: int | None
    multipart: bool
    parts: list[PartSummary]
    skipped: list[SkippedPart]
    completed_at: datetime | None
    pruned_at: datetime | None = None
    pruned: list[str] = Field(default_factory=list, description="Backups this run pruned")
    error: str | None
    workflow_id: str
    temporal_ui_url: str
    status_url: str


class BackupList(BaseModel):
    status: str = "success"
    count: int = Field(description="All backups (the seed's lists count everything)")
    backups: list[BackupView]
    pagination: Pagination


def backup_from_row(row: BackupRow, settings: Settings, *, status: str = "success") -> BackupView:
    contents = row.contents or {}
    return BackupView(
        status=status,
        backup_id=row.backup_id,
        size=human_size(row.size_bytes),
        location=row.location,
        created_at=row.created_at,
        backup_status=BackupStatus(row.status),
        kind=BackupKind(row.kind),
        schedule_id=row.schedule_id,
        include=[BackupInclude(item) for item in row.include],
        description=row.description,
        size_bytes=row.size_bytes,
        sha256=row.sha256,
        format_version=row.format_version,
        multipart=row.multipart,
        parts=[PartSummary.model_validate(part) for part in contents.get("parts", [])],
        skipped=[SkippedPart.model_validate(part) for part in contents.get("skipped", [])],
        completed_at=row.completed_at,
        pruned_at=row.pruned_at,
        error=row.error,
        workflow_id=row.workflow_id,
        temporal_ui_url=temporal_ui_link(settings, row.workflow_id),
        status_url=f"/api/kubeedge/backups/{row.backup_id}",
    )


def backup_from_run(progress: BackupProgress, settings: Settings, *, status: str) -> BackupView:
    archive = progress.archive
    workflow_id = progress.workflow_id or backup_workflow_id(progress.backup_id)
    return BackupView(
        status=status,
        backup_id=progress.backup_id,
        size=human_size(archive.size_bytes if archive else None),
        location=archive.location if archive else None,
        created_at=progress.created_at,
        backup_status=progress.status,
        kind=progress.kind,
        include=list(progress.include),
        description=progress.description,
        size_bytes=archive.size_bytes if archive else None,
        sha256=archive.sha256 if archive else None,
        format_version=archive.format_version if archive else None,
        multipart=archive.multipart if archive else False,
        parts=archive.parts if archive else [],
        skipped=archive.skipped if archive else [],
        completed_at=progress.completed_at,
        pruned=progress.pruned,
        error=progress.error,
        workflow_id=workflow_id,
        temporal_ui_url=temporal_ui_link(settings, workflow_id),
        status_url=f"/api/kubeedge/backups/{progress.backup_id}",
    )


class RestoreView(BaseModel):
    status: str = Field(description='"success"; "accepted" when a POST answers 202')
    restore_id: str
    backup_id: str
    restore_status: RestoreStatus
    dry_run: bool
    mode: RestoreMode
    changes: list[PartChange] = Field(
        description="What the restore changed; in a dry run, what it would change"
    )
    plan: RestorePlan | None
    safety_backup_id: str | None
    rolled_back: bool
    rollback: RollbackReport | None = Field(
        default=None,
        description="After a failed restore: how many of its changes were put back, were "
        "already as before, or were kept because someone changed them since (listed)",
    )
    error_type: str | None
    error: str | None
    started_at: datetime
    finished_at: datetime | None
    workflow_id: str
    temporal_ui_url: str
    status_url: str


def restore_from_run(progress: RestoreProgress, settings: Settings, *, status: str) -> RestoreView:
    plan = progress.plan
    changes = progress.applied or (plan.changes if plan and progress.dry_run else [])
    return _restore_view(
        status=status,
        settings=settings,
        fields={
            **progress.model_dump(exclude={"stage", "fingerprint", "applied", "status"}),
            "restore_status": progress.status,
            "changes": changes,
        },
    )


def restore_from_row(row: RestoreRow, settings: Settings) -> RestoreView:
    plan = RestorePlan.model_validate(row.plan) if row.plan else None
    applied = [PartChange.model_validate(change) for change in row.applied]
    changes = applied or (plan.changes if plan and row.dry_run else [])
    fields = {
        name: getattr(row, name)
        for name in (
            "restore_id",
            "backup_id",
            "dry_run",
            "safety_backup_id",
            "rolled_back",
            "error_type",
            "error",
            "started_at",
            "finished_at",
            "workflow_id",
        )
    }
    fields |= {
        "rollback": RollbackReport.model_validate(row.rollback) if row.rollback else None,
        "restore_status": RestoreStatus(row.status),
        "mode": RestoreMode(row.mode),
        "plan": plan,
        "changes": changes,
    }
    return _restore_view(status="success", settings=settings, fields=fields)


def _restore_view(*, status: str, settings: Settings, fields: dict[str, Any]) -> RestoreView:
    workflow_id = fields.get("workflow_id") or restore_workflow_id(fields["restore_id"])
    return RestoreView(
        **{
            **fields,
            "status": status,
            "workflow_id": workflow_id,
            "temporal_ui_url": temporal_ui_link(settings, workflow_id),
            "status_url": f"/api/kubeedge/restores/{fields['restore_id']}",
        }
    )
