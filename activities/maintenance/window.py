"""Recording and announcing the maintenance window.

The record is the row the API's write gate reads (store.maintenance). Announcements go
on the event bus (SSE, WebSocket) and to the webhooks subscribed to
`maintenance_started` / `maintenance_stopped`; a webhook delivery is keyed by the run,
so a retried announcement makes no second delivery.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.webhooks.emitter import WebhookEmitter
from adapters.mqtt.events import EventSink
from store import maintenance
from workflows.contracts.live import EventType
from workflows.contracts.maintenance import MaintenanceActivity, MaintenanceStatus
from workflows.contracts.webhooks import WebhookEvent

logger = logging.getLogger(__name__)


def event_fields(status: MaintenanceStatus) -> dict[str, Any]:
    """What the bus and webhooks say about the window (no paused list: it can be long)."""
    return {
        "active": status.active,
        "reason": status.reason,
        "message": status.message,
        "started_at": status.started_at.isoformat() if status.started_at else None,
        "ends_at": status.ends_at.isoformat() if status.ends_at else None,
        "started_by": status.started_by,
        "stopped_at": status.stopped_at.isoformat() if status.stopped_at else None,
        "ended": status.ended.value if status.ended else None,
        "stopped_by": status.stopped_by,
        "paused_count": len(status.paused),
    }


class MaintenanceWindowActivities:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        events: EventSink,
        webhooks: WebhookEmitter | None = None,
    ) -> None:
        self._sessions = sessions
        self._events = events
        self._webhooks = webhooks

    @activity.defn(name=MaintenanceActivity.RECORD)
    async def record_maintenance(self, inp: MaintenanceStatus) -> None:
        async with self._sessions() as session, session.begin():
            written = await maintenance.record_window(session, inp)
        if not written:
            logger.info("maintenance run %s is older than the recorded window", inp.run_id)

    @activity.defn(name=MaintenanceActivity.ANNOUNCE)
    async def announce_maintenance(self, inp: MaintenanceStatus) -> None:
        started = inp.active
        fields = event_fields(inp)
        logger.info(
            "maintenance %s (run %s, by %s)",
            "started" if started else f"ended: {inp.ended}",
            inp.run_id,
            inp.started_by if started else (inp.stopped_by or "deadline"),
        )
        self._events.emit(
            EventType.MAINTENANCE_STARTED if started else EventType.MAINTENANCE_STOPPED, fields
        )
        if self._webhooks is not None:
            event = (
                WebhookEvent.MAINTENANCE_STARTED if started else WebhookEvent.MAINTENANCE_STOPPED
            )
            at = inp.started_at if started else inp.stopped_at
            await self._webhooks.emit(event, key=inp.run_id or "unknown", data=fields, at=at)
