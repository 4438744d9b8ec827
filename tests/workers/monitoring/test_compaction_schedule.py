"""The compaction schedule on the dev server: made at worker start, run by the worker."""

from __future__ import annotations

import contextlib
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from temporalio.client import ScheduleActionExecutionStartWorkflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.monitoring.compaction import MonitoringActivities
from store.db import create_engine, session_factory
from store.monitoring import series
from store.monitoring.samples import Sample, record_samples
from store.monitoring.values import MetricValues
from store.settings import Settings
from tests.support.helpers import eventually
from tests.support.store_fixtures import migrate
from workers.monitoring import (
    MONITORING_WORKFLOWS,
    compaction_schedule,
    ensure_compaction_schedule,
)
from workflows.contracts.monitoring import CompactionResult


async def test_schedule_is_made_once_and_its_runs_compact(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    settings = Settings(
        data_dir=tmp_path,
        task_queue=f"monitoring-{tag}",
        metrics_compaction_schedule_id=f"metrics-{tag}",
    )
    await migrate(settings.sqlalchemy_url)
    engine = create_engine(settings.sqlalchemy_url)
    sessions = session_factory(engine)
    minute_ago = int(time.time()) - 120
    async with sessions() as session, session.begin():
        await record_samples(
            session,
            samples=[
                Sample(node_id="n1", ts=minute_ago, values=MetricValues(values={"cpu_usage": 7}))
            ],
        )
    client = dev_env.client
    handle = client.get_schedule_handle(settings.metrics_compaction_schedule_id)
    try:
        assert await ensure_compaction_schedule(client, settings=settings) == "created"
        # Every worker start calls it again: the one schedule is brought to the configuration.
        assert await ensure_compaction_schedule(client, settings=settings) == "updated"
        with ThreadPoolExecutor(max_workers=2) as executor:
            async with Worker(
                client,
                task_queue=settings.task_queue,
                workflows=list(MONITORING_WORKFLOWS),
                activities=[MonitoringActivities(sessions=sessions).compact_metrics],
                activity_executor=executor,
            ):
                await handle.trigger()

                async def finished_run() -> CompactionResult | None:
                    actions = (await handle.describe()).info.recent_actions
                    if not actions:
                        return None
                    action = actions[-1].action
                    assert isinstance(action, ScheduleActionExecutionStartWorkflow)
                    run = client.get_workflow_handle(
                        action.workflow_id, result_type=CompactionResult
                    )
                    result: CompactionResult = await run.result()
                    return result

                result = await eventually(finished_run, within=60)
        assert result.rollups_written["1m"] == 1
        async with sessions() as session:
            assert await series.horizon(session) == result.compacted_until
    finally:
        with contextlib.suppress(Exception):
            await handle.delete()
        await engine.dispose()


def test_a_disabled_compaction_is_a_paused_schedule() -> None:
    schedule = compaction_schedule(Settings(metrics_compaction_enabled=False))
    assert schedule.state.paused
    assert "EDGEWRIGHT_METRICS_COMPACTION_ENABLED" in (schedule.state.note or "")
