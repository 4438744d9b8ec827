"""A restore's own maintenance window: entered when the restore starts applying,
left when it ends, and only if the restore opened it.

Entering opens a window started by `restore:{restore_id}`; when one is already open
(an operator's), the restore runs inside it and leaves it alone. A retried enter finds
the window its earlier try opened by that name, so it still knows it must leave it.
Leaving stops only the run it opened: a later window is never ended by it.
"""

from __future__ import annotations

import logging

from temporalio import activity
from temporalio.client import Client

from adapters.maintenance.runs import (
    AlreadyActive,
    NotActive,
    close_window,
    open_window,
    wait_opened,
)
from store.settings import Settings
from workflows.contracts.maintenance import (
    LeaveInput,
    MaintenanceActivity,
    MaintenanceInput,
    MaintenanceStatus,
    RestoreWindow,
    RestoreWindowInput,
    maintenance_workflow_id,
    restore_starter,
)

logger = logging.getLogger(__name__)

RESTORE_MESSAGE = "A restore is running; changes are refused until it ends"


class RestoreWindowActivities:
    def __init__(self, *, settings: Settings, client: Client | None = None) -> None:
        """`client`: None inside a worker (the running activity's client is used)."""
        self._settings = settings
        self._client = client

    @activity.defn(name=MaintenanceActivity.ENTER_FOR_RESTORE)
    async def enter_maintenance_for_restore(self, inp: RestoreWindowInput) -> RestoreWindow:
        starter = restore_starter(inp.restore_id)
        window = MaintenanceInput(
            reason=f"restore {inp.restore_id} of {inp.backup_id}",
            message=RESTORE_MESSAGE,
            duration_minutes=self._settings.maintenance_restore_minutes,
            started_by=starter,
        )
        client = self._temporal()
        within = self._settings.maintenance_answer_timeout_seconds
        try:
            opened = await open_window(
                client, window, task_queue=self._settings.task_queue, within=within
            )
        except AlreadyActive as active:
            current = active.status
            if current is None or current.started_by != starter:
                logger.info("restore %s runs inside an open maintenance window", inp.restore_id)
                return RestoreWindow(entered=False)
            # Ours, opened by an earlier try of this activity: wait until it is open.
            handle = client.get_workflow_handle(
                maintenance_workflow_id(self._settings.task_queue),
                run_id=current.run_id,
                result_type=MaintenanceStatus,
            )
            await wait_opened(handle, within=within)
            return RestoreWindow(entered=True, run_id=current.run_id)
        return RestoreWindow(entered=True, run_id=opened.run_id)

    @activity.defn(name=MaintenanceActivity.LEAVE_AFTER_RESTORE)
    async def leave_maintenance_after_restore(self, inp: LeaveInput) -> None:
        try:
            await close_window(
                self._temporal(),
                task_queue=self._settings.task_queue,
                stopped_by=restore_starter(inp.restore_id),
                within=self._settings.maintenance_answer_timeout_seconds,
                run_id=inp.run_id,
            )
        except NotActive:
            # Stopped by an operator or ended at its deadline already.
            logger.info("restore %s: its maintenance window had ended", inp.restore_id)

    def _temporal(self) -> Client:
        return self._client if self._client is not None else activity.client()
