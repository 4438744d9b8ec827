"""The maintenance window row: written by the MaintenanceWorkflow's activities, read by
the API's write gate and status endpoint.

One row per deployment (`WINDOW`), holding the newest window, open or ended. Never part
of a backup (activities/backup/parts.py): a restore must not reopen or end a window.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from store.models import MaintenanceWindow
from workflows.contracts.maintenance import EndReason, MaintenanceStatus, PausedItem

WINDOW = "maintenance"


async def record_window(session: AsyncSession, status: MaintenanceStatus) -> bool:
    """Upsert the row from a run's status; False (nothing written) when the row holds a
    newer window than `status` (a late retry of an older run's step)."""
    row = await session.get(MaintenanceWindow, WINDOW, with_for_update=True)
    if row is None:
        row = MaintenanceWindow(name=WINDOW)
        session.add(row)
    elif (
        row.run_id != status.run_id
        and row.started_at is not None
        and status.started_at is not None
        and row.started_at > status.started_at
    ):
        return False
    row.active = status.active
    row.reason = status.reason
    row.message = status.message
    row.started_at = status.started_at
    row.ends_at = status.ends_at
    row.started_by = status.started_by
    row.paused = [item.model_dump(mode="json") for item in status.paused]
    row.workflow_id = status.workflow_id
    row.run_id = status.run_id
    row.stopped_at = status.stopped_at
    row.ended = status.ended.value if status.ended is not None else None
    row.stopped_by = status.stopped_by
    await session.flush()
    return True


async def load_window(session: AsyncSession) -> MaintenanceStatus:
    """The newest window; `active=False` and nothing else when there never was one."""
    row = await session.get(MaintenanceWindow, WINDOW)
    if row is None:
        return MaintenanceStatus(active=False)
    return MaintenanceStatus(
        active=row.active,
        reason=row.reason,
        message=row.message,
        started_at=row.started_at,
        ends_at=row.ends_at,
        started_by=row.started_by,
        paused=tuple(PausedItem.model_validate(item) for item in row.paused),
        workflow_id=row.workflow_id,
        run_id=row.run_id,
        stopped_at=row.stopped_at,
        ended=EndReason(row.ended) if row.ended is not None else None,
        stopped_by=row.stopped_by,
    )


def in_force(status: MaintenanceStatus, *, now: datetime) -> bool:
    """Whether writes are refused: open and before its deadline. The deadline counts on
    its own, so a window whose worker is down past it stops refusing anyway."""
    return status.active and status.ends_at is not None and now < status.ends_at
