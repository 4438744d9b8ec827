"""Maintenance mode: the window's workflow and activities, for workers.worker to register."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.maintenance.restore import RestoreWindowActivities
from activities.maintenance.window import MaintenanceWindowActivities
from activities.maintenance.work import MaintenanceWorkActivities
from activities.webhooks.emitter import WebhookEmitter
from adapters.mqtt.events import EventSink
from store.settings import Settings
from workflows.maintenance.window import MaintenanceWorkflow

MAINTENANCE_WORKFLOWS: Sequence[type] = (MaintenanceWorkflow,)


def maintenance_activities(
    *,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    events: EventSink,
    webhooks: WebhookEmitter | None = None,
) -> list[Any]:
    window = MaintenanceWindowActivities(sessions=sessions, events=events, webhooks=webhooks)
    work = MaintenanceWorkActivities(settings=settings)
    restore = RestoreWindowActivities(settings=settings)
    return [
        window.record_maintenance,
        window.announce_maintenance,
        work.find_running_work,
        work.set_work_paused,
        restore.enter_maintenance_for_restore,
        restore.leave_maintenance_after_restore,
    ]
