"""What the maintenance routes do: open and close the window's run, show the window.

`record_maintenance_action` is the one place an admin's start or stop is seen with who
did it and what came of it: it goes to the security audit log.
"""

from __future__ import annotations

import logging

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client
from temporalio.service import RPCError

from adapters.maintenance.runs import (
    AlreadyActive,
    NotActive,
    NotAnswered,
    close_window,
    open_window,
)
from api.core.audit import defer_audit_event
from api.core.errors import ApiError
from api.core.links import temporal_ui_link
from api.core.principal import Principal
from api.core.runs import unavailable
from api.maintenance.schemas import MaintenanceView, StartRequest
from store.audit import AuditEvent
from store.maintenance import in_force, load_window
from store.models import utcnow
from store.settings import Settings
from workflows.contracts.maintenance import MaintenanceInput, MaintenanceStatus

logger = logging.getLogger(__name__)


class Accepted(Exception):
    """The run took the request but did not answer in time: a 202 with `status`."""

    def __init__(self, status: MaintenanceStatus | None) -> None:
        super().__init__("accepted")
        self.status = status


def view(
    status: MaintenanceStatus, settings: Settings, *, answer: str = "success"
) -> MaintenanceView:
    return MaintenanceView(
        status=answer,
        active=in_force(status, now=utcnow()),
        reason=status.reason,
        message=status.message,
        started_at=status.started_at,
        ends_at=status.ends_at,
        started_by=status.started_by,
        paused=list(status.paused),
        stopped_at=status.stopped_at,
        ended=status.ended,
        stopped_by=status.stopped_by,
        workflow_id=status.workflow_id,
        temporal_ui_url=temporal_ui_link(settings, status.workflow_id)
        if status.workflow_id
        else None,
    )


async def current(session: AsyncSession) -> MaintenanceStatus:
    return await load_window(session)


async def start(
    request: Request, client: Client, settings: Settings, *, user: Principal, body: StartRequest
) -> MaintenanceStatus:
    """Open a window: 409 while one is open; Accepted when it did not answer in time."""
    inp = MaintenanceInput(
        reason=body.reason,
        message=body.message,
        duration_minutes=body.duration_minutes,
        started_by=user.username,
    )
    try:
        status = await open_window(
            client,
            inp,
            task_queue=settings.task_queue,
            within=settings.maintenance_answer_timeout_seconds,
        )
    except AlreadyActive as active:
        details = (
            {"active": view(active.status, settings).model_dump(mode="json")}
            if active.status
            else {}
        )
        raise ApiError(
            409, "Maintenance is already active; stop it first", details=details
        ) from None
    except NotAnswered as late:
        record_maintenance_action(request, user, "start", late.status)
        raise Accepted(late.status) from None
    except RPCError as err:
        raise unavailable(err) from None
    record_maintenance_action(request, user, "start", status)
    return status


async def stop(
    request: Request, client: Client, settings: Settings, *, user: Principal
) -> MaintenanceStatus:
    """Close the open window: 409 when none is; Accepted when it did not answer in time."""
    try:
        status = await close_window(
            client,
            task_queue=settings.task_queue,
            stopped_by=user.username,
            within=settings.maintenance_answer_timeout_seconds,
        )
    except NotActive:
        raise ApiError(409, "Maintenance is not active") from None
    except NotAnswered as late:
        record_maintenance_action(request, user, "stop", late.status)
        raise Accepted(late.status) from None
    except RPCError as err:
        raise unavailable(err) from None
    record_maintenance_action(request, user, "stop", status)
    return status


def record_maintenance_action(
    request: Request, user: Principal, action: str, status: MaintenanceStatus | None
) -> None:
    """An admin started or stopped maintenance (`action`: "start" or "stop"): into the
    security audit log, deferred (the run holds the window whatever this request answers).

    Windows a restore opens and closes, and ends at the deadline, are not API actions:
    the workflow announces them (webhooks, event bus).
    """
    defer_audit_event(
        request,
        event=AuditEvent.MAINTENANCE_STARTED
        if action == "start"
        else AuditEvent.MAINTENANCE_STOPPED,
        target="maintenance",
        details={
            "run_id": status.run_id if status is not None else None,
            "reason": status.reason if status is not None else None,
            "ends_at": status.ends_at.isoformat() if status and status.ends_at else None,
        },
    )
    logger.info(
        "maintenance %s by %s (run %s)",
        action,
        user.username,
        status.run_id if status is not None else "unknown",
    )
