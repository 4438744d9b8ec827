"""Monitoring: the compaction workflow and activity for workers.worker to register, and
its Temporal Schedule, made (or brought to the configuration) at every worker start.

Nothing but the configuration manages this schedule, so every start replaces its spec
and action with the configured ones; disabled by configuration, it is paused.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from activities.monitoring.compaction import MonitoringActivities
from store.monitoring.config import metrics_retention
from store.settings import Settings
from workflows.contracts.monitoring import (
    METRICS_COMPACTION_WORKFLOW,
    CompactionInput,
    metrics_compaction_workflow_id,
)
from workflows.monitoring.compaction import MetricsCompactionWorkflow

log = logging.getLogger(__name__)

MONITORING_WORKFLOWS: Sequence[type] = (MetricsCompactionWorkflow,)
DISABLED_NOTE = "paused: EDGEWRIGHT_METRICS_COMPACTION_ENABLED is false"


def monitoring_activities(*, sessions: async_sessionmaker[AsyncSession]) -> list[Any]:
    return [MonitoringActivities(sessions=sessions).compact_metrics]


def compaction_schedule(settings: Settings) -> Schedule:
    interval = timedelta(seconds=settings.metrics_compaction_interval_seconds)
    return Schedule(
        action=ScheduleActionStartWorkflow(
            METRICS_COMPACTION_WORKFLOW,
            CompactionInput(retention=metrics_retention(settings)),
            id=metrics_compaction_workflow_id(settings.metrics_compaction_schedule_id),
            task_queue=settings.task_queue,
            execution_timeout=timedelta(minutes=30),
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=interval)]),
        # One run at a time; a run missed while no worker ran is not made up for (the
        # next one covers everything since the last).
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=interval),
        state=ScheduleState(
            paused=not settings.metrics_compaction_enabled,
            note=None if settings.metrics_compaction_enabled else DISABLED_NOTE,
        ),
    )


async def ensure_compaction_schedule(
    client: Client, *, settings: Settings
) -> Literal["created", "updated"]:
    schedule = compaction_schedule(settings)
    schedule_id = settings.metrics_compaction_schedule_id
    try:
        await client.create_schedule(schedule_id, schedule)
        log.info("metrics compaction schedule %s created", schedule_id)
        return "created"
    except ScheduleAlreadyRunningError:
        pass  # another replica, or an earlier start, made it

    def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(schedule=schedule)

    await client.get_schedule_handle(schedule_id).update(replace)
    return "updated"
