"""Audit: the retention workflow and activity for workers.worker to register, and its
Temporal Schedule, made (or brought to the configuration) at every worker start.

Nothing but the configuration manages this schedule, so every start replaces its spec
and action with the configured ones (EDGEWRIGHT_AUDIT_RETENTION_DAYS).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
)

from activities.audit.retention import AuditActivities
from store.settings import Settings
from workers.temporal_schedules import create_or_replace_schedule
from workflows.audit.retention import AuditRetentionWorkflow
from workflows.contracts.audit import (
    AUDIT_RETENTION_WORKFLOW,
    AuditRetentionInput,
    audit_retention_workflow_id,
)

AUDIT_WORKFLOWS: Sequence[type] = (AuditRetentionWorkflow,)
# Retention is counted in days; an hourly run keeps the log within an hour of it and
# deletes an hour's worth of events at a time.
INTERVAL = timedelta(hours=1)


def audit_activities(*, sessions: async_sessionmaker[AsyncSession]) -> list[Any]:
    return [AuditActivities(sessions=sessions).prune_audit_log]


def audit_retention_schedule(settings: Settings) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            AUDIT_RETENTION_WORKFLOW,
            AuditRetentionInput(retention_days=settings.audit_retention_days),
            id=audit_retention_workflow_id(settings.audit_retention_schedule_id),
            task_queue=settings.task_queue,
            execution_timeout=timedelta(minutes=30),
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=INTERVAL)]),
        # One run at a time; a missed run is not made up for (the next covers it).
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=INTERVAL),
    )


async def ensure_audit_retention_schedule(
    client: Client, *, settings: Settings
) -> Literal["created", "updated"]:
    return await create_or_replace_schedule(
        client,
        settings.audit_retention_schedule_id,
        audit_retention_schedule(settings),
        what="audit retention",
    )
