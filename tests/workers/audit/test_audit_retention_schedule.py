"""The audit retention schedule on the dev server: made at worker start; its run deletes
the events past EDGEWRIGHT_AUDIT_RETENTION_DAYS and nothing younger."""

from __future__ import annotations

import contextlib
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from temporalio.client import ScheduleActionExecutionStartWorkflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from store.audit import AuditEvent, append_audit_event
from store.db import create_engine, session_factory
from store.models import AuditRow, utcnow
from store.settings import Settings
from tests.support.helpers import eventually
from tests.support.store_fixtures import migrate
from workers.audit import (
    AUDIT_WORKFLOWS,
    audit_activities,
    audit_retention_schedule,
    ensure_audit_retention_schedule,
)
from workflows.contracts.audit import AuditRetentionInput, AuditRetentionResult


async def test_schedule_is_made_once_and_its_runs_prune(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    settings = Settings(
        data_dir=tmp_path,
        task_queue=f"audit-{tag}",
        audit_retention_schedule_id=f"audit-{tag}",
        audit_retention_days=30,
    )
    await migrate(settings.sqlalchemy_url)
    engine = create_engine(settings.sqlalchemy_url)
    sessions = session_factory(engine)
    now = utcnow()
    async with sessions() as session, session.begin():
        for days in (45, 31, 29, 1):
            await append_audit_event(
                session, event=AuditEvent.LOGOUT, target=f"{days}d", at=now - timedelta(days=days)
            )
    client = dev_env.client
    handle = client.get_schedule_handle(settings.audit_retention_schedule_id)
    try:
        assert await ensure_audit_retention_schedule(client, settings=settings) == "created"
        # Every worker start calls it again: the one schedule is brought to the configuration.
        assert await ensure_audit_retention_schedule(client, settings=settings) == "updated"
        with ThreadPoolExecutor(max_workers=2) as executor:
            async with Worker(
                client,
                task_queue=settings.task_queue,
                workflows=list(AUDIT_WORKFLOWS),
                activities=audit_activities(sessions=sessions),
                activity_executor=executor,
            ):
                await handle.trigger()

                async def finished_run() -> AuditRetentionResult | None:
                    actions = (await handle.describe()).info.recent_actions
                    if not actions:
                        return None
                    action = actions[-1].action
                    assert isinstance(action, ScheduleActionExecutionStartWorkflow)
                    run = client.get_workflow_handle(
                        action.workflow_id, result_type=AuditRetentionResult
                    )
                    result: AuditRetentionResult = await run.result()
                    return result

                result = await eventually(finished_run, within=60)
        assert result.deleted == 2
        async with sessions() as session:
            kept = list(await session.scalars(select(AuditRow.target).order_by(AuditRow.id)))
        assert kept == ["29d", "1d"]
    finally:
        with contextlib.suppress(Exception):
            await handle.delete()
        await engine.dispose()


def test_retention_is_configured_and_bounded() -> None:
    assert Settings().audit_retention_days == 90
    action = audit_retention_schedule(Settings(audit_retention_days=7)).action
    assert action.args == [AuditRetentionInput(retention_days=7)]  # type: ignore[attr-defined]
    for bad in (0, 3651):
        with pytest.raises(ValidationError):
            Settings(audit_retention_days=bad)
