"""Backups, restores and backup schedules (CloudCore contract)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from .._states import BACKUP_FINAL, RESTORE_FINAL
from ..models import (
    BackupList,
    BackupRequest,
    BackupView,
    RestoreRequest,
    RestoreView,
    ScheduleList,
    ScheduleView,
    Triggered,
)
from .base import SyncBase, body_of


class SyncBackups(SyncBase):
    def create_backup(
        self,
        name: str | None = None,
        include: list[str] | None = None,
        description: str | None = None,
        *,
        wait: bool = False,
        body: BackupRequest | None = None,
    ) -> BackupView:
        data = body_of(body, {"name": name, "include": include, "description": description})
        return self._t.send(
            "POST",
            "/api/kubeedge/backup",
            BackupView,
            json=data,
            params={"wait": "true"} if wait else None,
        )

    def iter_backups(self) -> Iterator[BackupView]:
        for item in self._pages("/api/kubeedge/backups", BackupList, "backups"):
            yield item

    def list_backups(self) -> list[BackupView]:
        return [item for item in self.iter_backups()]

    def get_backup(self, backup_id: str) -> BackupView:
        return self._t.send("GET", f"/api/kubeedge/backups/{backup_id}", BackupView)

    def wait_backup(
        self,
        backup_id: str,
        *,
        timeout: float | None = None,
        poll: float = 1.0,
        on_progress: Callable[[BackupView], None] | None = None,
    ) -> BackupView:
        return self._wait(
            f"/api/kubeedge/backups/{backup_id}",
            BackupView,
            lambda seen: seen.backup_status in BACKUP_FINAL,
            timeout=timeout,
            poll=poll,
            on_progress=on_progress,
        )

    def restore(
        self,
        backup_id: str,
        *,
        dry_run: bool | None = None,
        mode: str | None = None,
        include: list[str] | None = None,
        wait: bool = False,
        body: RestoreRequest | None = None,
        **fields: Any,
    ) -> RestoreView:
        """Restore a backup; `dry_run=True` answers the plan and changes nothing."""
        data = body_of(
            body,
            {"backup_id": backup_id, "dry_run": dry_run, "mode": mode, "include": include},
        )
        data.update(fields)
        return self._t.send(
            "POST",
            "/api/kubeedge/restore",
            RestoreView,
            json=data,
            params={"wait": "true"} if wait else None,
        )

    def get_restore(self, restore_id: str) -> RestoreView:
        return self._t.send("GET", f"/api/kubeedge/restores/{restore_id}", RestoreView)

    def wait_restore(
        self,
        restore_id: str,
        *,
        timeout: float | None = None,
        poll: float = 1.0,
        on_progress: Callable[[RestoreView], None] | None = None,
    ) -> RestoreView:
        return self._wait(
            f"/api/kubeedge/restores/{restore_id}",
            RestoreView,
            lambda seen: seen.restore_status in RESTORE_FINAL,
            timeout=timeout,
            poll=poll,
            on_progress=on_progress,
        )

    def list_backup_schedules(self) -> list[ScheduleView]:
        answer = self._t.send("GET", "/api/kubeedge/backup/schedules", ScheduleList)
        return list(answer.schedules)

    def get_backup_schedule(self, schedule_id: str) -> ScheduleView:
        return self._t.send("GET", f"/api/kubeedge/backup/schedules/{schedule_id}", ScheduleView)

    def trigger_backup_schedule(self, schedule_id: str) -> Triggered:
        return self._t.send(
            "POST", f"/api/kubeedge/backup/schedules/{schedule_id}/trigger", Triggered
        )
