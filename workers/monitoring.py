"""Monitoring: the compaction and alert workflows and activities for workers.worker to
register; the compaction's Temporal Schedule, made (or brought to the configuration) at
every worker start, and the alert evaluation loop, started unless it runs.

Nothing but the configuration manages this schedule, so every start replaces its spec
and action with the configured ones; disabled by configuration, it is paused.
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
    ScheduleState,
)
from temporalio.common import WorkflowIDConflictPolicy

from activities.monitoring.alerts import AlertActivities
from activities.monitoring.compaction import MonitoringActivities
from activities.webhooks.emitter import WebhookEmitter
from adapters.mqtt.events import PublisherEvents
from adapters.mqtt.publisher import MqttPublisher
from store.monitoring.config import metrics_retention
from store.settings import Settings
from workers.temporal_schedules import create_or_replace_schedule
from workflows.contracts.monitoring import (
    ALERT_EVALUATION_WORKFLOW,
    ALERT_EVALUATION_WORKFLOW_ID,
    METRICS_COMPACTION_WORKFLOW,
    AlertEvaluationInput,
    CompactionInput,
    metrics_compaction_workflow_id,
)
from workflows.monitoring.alerts import AlertEvaluationWorkflow
from workflows.monitoring.compaction import MetricsCompactionWorkflow

MONITORING_WORKFLOWS: Sequence[type] = (MetricsCompactionWorkflow, AlertEvaluationWorkflow)
DISABLED_NOTE = "paused: EDGEWRIGHT_METRICS_COMPACTION_ENABLED is false"


def monitoring_activities(
    *,
    sessions: async_sessionmaker[AsyncSession],
    publisher: MqttPublisher,
    webhooks: WebhookEmitter | None = None,
) -> list[Any]:
    alerts = AlertActivities(
        sessions=sessions,
        publisher=publisher,
        events=PublisherEvents(publisher=publisher),
        webhooks=webhooks,
    )
    return [MonitoringActivities(sessions=sessions).compact_metrics, alerts.evaluate_alerts]


async def ensure_alert_evaluation(client: Client, *, settings: Settings) -> None:
    """Start the evaluation loop unless it runs already (every worker replica calls this)."""
    await client.start_workflow(
        ALERT_EVALUATION_WORKFLOW,
        AlertEvaluationInput(interval_seconds=settings.alert_evaluation_interval_seconds),
        id=ALERT_EVALUATION_WORKFLOW_ID,
        task_queue=settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )


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
    return await create_or_replace_schedule(
        client,
        settings.metrics_compaction_schedule_id,
        compaction_schedule(settings),
        what="metrics compaction",
    )
