"""The records of backups and restores, and the retention rule that prunes backups."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import BackupRow, RestoreRow, utcnow
from store.upsert import upsert
from workflows.contracts.backup import BackupStatus, RestoreStatus

_BACKUP_WRITABLE = [
    "kind",
    "status",
    "include",
    "description",
    "location",
    "size_bytes",
    "sha256",
    "format_version",
    "contents",
    "multipart",
    "schedule_id",
    "workflow_id",
    "error",
    "completed_at",
    "updated_at",
]


async def save_backup(
    session: AsyncSession,
    *,
    backup_id: str,
    kind: str,
    status: str,
    include: Sequence[str],
    workflow_id: str,
    created_at: datetime,
    description: str | None = None,
    location: str | None = None,
    size_bytes: int | None = None,
    sha256: str | None = None,
    format_version: int | None = None,
    contents: dict[str, Any] | None = None,
    multipart: bool = False,
    schedule_id: str | None = None,
    completed_at: datetime | None = None,
    error: str | None = None,
) -> None:
    """Upsert on backup_id: a run records itself when it starts and again when it ends."""
    values = {
        "backup_id": backup_id,
        "kind": kind,
        "status": status,
        "include": list(include),
        "description": description,
        "location": location,
        "size_bytes": size_bytes,
        "sha256": sha256,
        "format_version": format_version,
        "contents": contents or {},
        "multipart": multipart,
        "schedule_id": schedule_id,
        "workflow_id": workflow_id,
        "error": error,
        "created_at": created_at,
        "completed_at": completed_at,
        "updated_at": utcnow(),
    }
    await upsert(session, model=BackupRow, values=values, key="backup_id", update=_BACKUP_WRITABLE)


async def get_backup(session: AsyncSession, *, backup_id: str) -> BackupRow | None:
    return await session.scalar(select(BackupRow).where(BackupRow.backup_id == backup_id))


async def list_backups(
    session: AsyncSession, *, offset: int, limit: int, kind: str | None = None
) -> Sequence[BackupRow]:
    stmt = select(BackupRow).order_by(BackupRow.created_at.desc(), BackupRow.backup_id)
    if kind is not None:
        stmt = stmt.where(BackupRow.kind == kind)
    return (await session.scalars(stmt.offset(offset).limit(limit))).all()


async def count_backups(session: AsyncSession, *, kind: str | None = None) -> int:
    stmt = select(func.count()).select_from(BackupRow)
    if kind is not None:
        stmt = stmt.where(BackupRow.kind == kind)
    return int(await session.scalar(stmt) or 0)


async def completed_backups(
    session: AsyncSession, *, kind: str, schedule_id: str | None = None
) -> Sequence[BackupRow]:
    """Completed backups of one kind (and schedule), newest first: what retention sees."""
    stmt = (
        select(BackupRow)
        .where(BackupRow.kind == kind, BackupRow.status == BackupStatus.COMPLETED.value)
        .order_by(BackupRow.created_at.desc())
    )
    if schedule_id is not None:
        stmt = stmt.where(BackupRow.schedule_id == schedule_id)
    return (await session.scalars(stmt)).all()


async def mark_pruned(session: AsyncSession, *, backup_id: str) -> bool:
    result = await session.execute(
        update(BackupRow)
        .where(BackupRow.backup_id == backup_id)
        .values(status=BackupStatus.PRUNED.value, pruned_at=utcnow(), updated_at=utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def prunable(
    backups: Sequence[tuple[str, datetime]],
    *,
    keep_last: int,
    keep_days: float,
    now: datetime,
    keep: Collection[str] = (),
) -> list[str]:
    """The IDs no rule keeps: a backup stays while it is among the newest `keep_last` or
    younger than `keep_days` (either rule is enough; 0 turns a rule off, both off keeps all)."""
    if not keep_last and not keep_days:
        return []
    cutoff = now - timedelta(days=keep_days) if keep_days else None
    newest_first = sorted(backups, key=lambda item: item[1], reverse=True)
    doomed = []
    for rank, (backup_id, created_at) in enumerate(newest_first):
        recent = keep_last > 0 and rank < keep_last
        young = cutoff is not None and created_at >= cutoff
        if not (recent or young or backup_id in keep):
            doomed.append(backup_id)
    return doomed


_RESTORE_WRITABLE = [
    "status",
    "plan",
    "applied",
    "safety_backup_id",
    "rolled_back",
    "rollback",
    "error_type",
    "error",
    "finished_at",
    "updated_at",
]


async def save_restore(
    session: AsyncSession,
    *,
    restore_id: str,
    backup_id: str,
    status: str,
    dry_run: bool,
    mode: str,
    workflow_id: str,
    started_at: datetime,
    plan: dict[str, Any] | None = None,
    applied: list[dict[str, Any]] | None = None,
    safety_backup_id: str | None = None,
    rolled_back: bool = False,
    rollback: dict[str, Any] | None = None,
    error_type: str | None = None,
    error: str | None = None,
    finished_at: datetime | None = None,
) -> None:
    values = {
        "restore_id": restore_id,
        "backup_id": backup_id,
        "status": status,
        "dry_run": dry_run,
        "mode": mode,
        "plan": plan,
        "applied": applied or [],
        "safety_backup_id": safety_backup_id,
        "rolled_back": rolled_back,
        "rollback": rollback,
        "error_type": error_type,
        "error": error,
        "workflow_id": workflow_id,
        "started_at": started_at,
        "finished_at": finished_at,
        "updated_at": utcnow(),
    }
    await upsert(
        session, model=RestoreRow, values=values, key="restore_id", update=_RESTORE_WRITABLE
    )


async def get_restore(session: AsyncSession, *, restore_id: str) -> RestoreRow | None:
    return await session.scalar(select(RestoreRow).where(RestoreRow.restore_id == restore_id))


async def running_restores(session: AsyncSession) -> Sequence[str]:
    stmt = select(RestoreRow.restore_id).where(
        RestoreRow.status == RestoreStatus.RUNNING.value, RestoreRow.dry_run.is_(False)
    )
    return (await session.scalars(stmt)).all()
