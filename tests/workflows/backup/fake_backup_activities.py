"""Stand-ins for the backup and restore activities, registered under the real names."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from workflows.contracts.backup import (
    ApplyInput,
    ApplyResult,
    ArchiveInfo,
    ArchiveRef,
    BackupActivity,
    BackupRecordInput,
    CreateArchiveInput,
    InspectInput,
    KeptChange,
    PartChange,
    PartSummary,
    PruneInput,
    PruneResult,
    RestorePlan,
    RestoreProgress,
    RollbackReport,
    UndoInput,
)
from workflows.contracts.maintenance import (
    LeaveInput,
    MaintenanceActivity,
    RestoreWindow,
    RestoreWindowInput,
)


def final_error(name: str, error_type: str = "StorageRejected") -> ApplicationError:
    return ApplicationError(f"{name} exploded", type=error_type, non_retryable=True)


class FakeBackupActivities:
    """Records calls in order; `failures` maps an activity to a check that may raise."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.backups: list[BackupRecordInput] = []
        self.restores: list[RestoreProgress] = []
        self.applied: list[ApplyInput] = []
        self.undone: list[UndoInput] = []
        self.rollback = RollbackReport(
            restored=2, kept=1, kept_changes=[KeptChange(part="devices", key=["cam-7"])]
        )
        self.failures: dict[BackupActivity, Callable[[Any], None]] = {}
        self.pruned = ["old-1"]
        self.hang: set[BackupActivity] = set()  # run until cancelled
        # The restore's maintenance window: "enter", "leave <run>" (apart from `calls`).
        self.window_calls: list[str] = []
        self.window_open_already = False  # an operator's window is open: do not enter

    def fail(self, name: BackupActivity, error_type: str = "StorageRejected") -> None:
        def raise_it(_: Any) -> None:
            raise final_error(name.value, error_type)

        self.failures[name] = raise_it

    async def _enter(self, name: BackupActivity, arg: Any) -> None:
        self.calls.append(name.value)
        if name in self.failures:
            self.failures[name](arg)
        if name in self.hang:
            while True:  # cancellation reaches an activity through its heartbeat
                activity.heartbeat()
                await asyncio.sleep(0.05)

    def statuses(self) -> list[str]:
        return [record.status.value for record in self.backups]

    def all(self) -> list[Callable[..., Any]]:
        @activity.defn(name=BackupActivity.CREATE_BACKUP_ARCHIVE)
        async def create(inp: CreateArchiveInput) -> ArchiveInfo:
            await self._enter(BackupActivity.CREATE_BACKUP_ARCHIVE, inp)
            return archive_info(inp.backup_id)

        @activity.defn(name=BackupActivity.VERIFY_BACKUP_ARCHIVE)
        async def verify(inp: ArchiveRef) -> None:
            await self._enter(BackupActivity.VERIFY_BACKUP_ARCHIVE, inp)

        @activity.defn(name=BackupActivity.DISCARD_BACKUP_ARCHIVE)
        async def discard(inp: ArchiveRef) -> None:
            await self._enter(BackupActivity.DISCARD_BACKUP_ARCHIVE, inp)

        @activity.defn(name=BackupActivity.RECORD_BACKUP)
        async def record(inp: BackupRecordInput) -> None:
            await self._enter(BackupActivity.RECORD_BACKUP, inp)
            self.backups.append(inp)

        @activity.defn(name=BackupActivity.PRUNE_BACKUPS)
        async def prune(inp: PruneInput) -> PruneResult:
            await self._enter(BackupActivity.PRUNE_BACKUPS, inp)
            return PruneResult(pruned=self.pruned)

        @activity.defn(name=BackupActivity.INSPECT_BACKUP)
        async def inspect(inp: InspectInput) -> RestorePlan:
            await self._enter(BackupActivity.INSPECT_BACKUP, inp)
            return restore_plan(inp.backup_id)

        @activity.defn(name=BackupActivity.APPLY_BACKUP)
        async def apply(inp: ApplyInput) -> ApplyResult:
            self.applied.append(inp)
            await self._enter(BackupActivity.APPLY_BACKUP, inp)
            return ApplyResult(changes=restore_plan(inp.backup_id).changes)

        @activity.defn(name=BackupActivity.RECORD_RESTORE)
        async def record_restore(inp: RestoreProgress) -> None:
            await self._enter(BackupActivity.RECORD_RESTORE, inp)
            self.restores.append(inp)

        @activity.defn(name=BackupActivity.UNDO_RESTORE)
        async def undo(inp: UndoInput) -> RollbackReport:
            self.undone.append(inp)
            await self._enter(BackupActivity.UNDO_RESTORE, inp)
            return self.rollback

        @activity.defn(name=MaintenanceActivity.ENTER_FOR_RESTORE)
        async def enter(inp: RestoreWindowInput) -> RestoreWindow:
            self.window_calls.append("enter")
            if self.window_open_already:
                return RestoreWindow(entered=False)
            return RestoreWindow(entered=True, run_id=f"window-of-{inp.restore_id}")

        @activity.defn(name=MaintenanceActivity.LEAVE_AFTER_RESTORE)
        async def leave(inp: LeaveInput) -> None:
            self.window_calls.append(f"leave {inp.run_id}")

        return [
            create,
            verify,
            discard,
            record,
            prune,
            inspect,
            apply,
            record_restore,
            undo,
            enter,
            leave,
        ]


def archive_info(backup_id: str) -> ArchiveInfo:
    return ArchiveInfo(
        backup_id=backup_id,
        location=f"s3://bucket/{backup_id}.tar.gz",
        size_bytes=1234,
        sha256="a" * 64,
        format_version=1,
        parts=[
            PartSummary(
                name="devices",
                include="devices",
                source="table",
                count=3,
                bytes=99,
                sha256="b" * 64,
            )
        ],
    )


def restore_plan(backup_id: str) -> RestorePlan:
    return RestorePlan(
        backup_id=backup_id,
        location=f"s3://bucket/{backup_id}.tar.gz",
        sha256="c" * 64,
        size_bytes=1234,
        format_version=1,
        archive_created_at=datetime(2026, 1, 15, tzinfo=UTC),
        include=("config", "devices"),
        changes=[PartChange(name="devices", include="devices", source="table", create=2)],
    )
