"""Backup schedules as the API shows them, read from and written to Temporal Schedules.

Our schedules are the Temporal Schedules whose ID starts with `backup-schedule/`; the API
calls them by the rest (`default`). What an operator wrote (cron line or interval,
include, retention) travels in the schedule action's memo, because Temporal answers a
cron line back as calendar specs; whether it is paused comes from the schedule itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, Field, ValidationError
from temporalio.client import (
    Client,
    ScheduleActionExecutionStartWorkflow,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleDescription,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from api.core.errors import ApiError
from api.core.links import temporal_ui_link
from store.settings import Settings
from workflows.contracts.backup import (
    BACKUP_SCHEDULE_PREFIX,
    SCHEDULE_CONFIG_MEMO,
    SCHEDULE_SPEC_MEMO,
    BackupScheduleConfig,
    backup_schedule,
    backup_schedule_temporal_id,
)


class ScheduleRun(BaseModel):
    workflow_id: str
    scheduled_at: datetime
    started_at: datetime
    temporal_ui_url: str


class ScheduleView(BaseModel):
    id: str
    schedule: BackupScheduleConfig | None = Field(
        description="What it does; null for a schedule edgewright did not write"
    )
    paused: bool
    note: str | None
    next_runs: list[datetime]
    recent_runs: list[ScheduleRun]
    running: list[str]
    created_at: datetime
    updated_at: datetime | None
    temporal_schedule_id: str
    temporal_ui_url: str


def schedule_link(settings: Settings, temporal_id: str) -> str:
    base = settings.temporal_ui_url.rstrip("/")
    namespace = quote(settings.temporal_namespace, safe="")
    return f"{base}/namespaces/{namespace}/schedules/{quote(temporal_id, safe='')}"


async def list_schedule_ids(client: Client) -> list[str]:
    ids = []
    async for listed in await client.list_schedules():
        if listed.id.startswith(BACKUP_SCHEDULE_PREFIX):
            ids.append(listed.id.removeprefix(BACKUP_SCHEDULE_PREFIX))
    return sorted(ids)


async def describe(client: Client, schedule_id: str) -> ScheduleDescription:
    try:
        return await client.get_schedule_handle(backup_schedule_temporal_id(schedule_id)).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise ApiError(
                404, f"No backup schedule {schedule_id}", details={"schedule_id": schedule_id}
            ) from None
        raise


def view(
    client: Client, settings: Settings, schedule_id: str, desc: ScheduleDescription
) -> ScheduleView:
    state, info = desc.schedule.state, desc.info
    config = _memo(client, desc, SCHEDULE_SPEC_MEMO)
    try:
        written = BackupScheduleConfig.model_validate(config) if config else None
    except ValidationError:
        written = None
    if written is not None:  # the schedule's own state wins over what was last written
        written = written.model_copy(update={"paused": state.paused, "note": state.note})
    return ScheduleView(
        id=schedule_id,
        schedule=written,
        paused=state.paused,
        note=state.note or None,
        next_runs=info.next_action_times[:5],
        recent_runs=_recent_runs(settings, desc),
        running=[
            running.workflow_id
            for running in info.running_actions
            if isinstance(running, ScheduleActionExecutionStartWorkflow)
        ],
        created_at=info.created_at,
        updated_at=info.last_updated_at,
        temporal_schedule_id=desc.id,
        temporal_ui_url=schedule_link(settings, desc.id),
    )


def _recent_runs(settings: Settings, desc: ScheduleDescription) -> list[ScheduleRun]:
    runs = []
    for result in desc.info.recent_actions[-5:]:
        started = result.action
        if isinstance(started, ScheduleActionExecutionStartWorkflow):
            runs.append(
                ScheduleRun(
                    workflow_id=started.workflow_id,
                    scheduled_at=result.scheduled_at,
                    started_at=result.started_at,
                    temporal_ui_url=temporal_ui_link(settings, started.workflow_id),
                )
            )
    return runs


async def put_schedule(
    client: Client, settings: Settings, schedule_id: str, config: BackupScheduleConfig
) -> bool:
    """Create or replace; True when created. The configuration fingerprint the worker left
    is kept, so the worker's next start does not take the operator's change back."""
    temporal_id = backup_schedule_temporal_id(schedule_id)
    handle = client.get_schedule_handle(temporal_id)
    try:
        existing = await handle.describe()
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        existing = None
    fingerprint = _memo(client, existing, SCHEDULE_CONFIG_MEMO) if existing else None
    schedule = backup_schedule(
        config,
        schedule_id=schedule_id,
        task_queue=settings.task_queue,
        config_fingerprint=fingerprint if isinstance(fingerprint, str) else None,
    )
    try:
        if existing is None:
            try:
                await client.create_schedule(temporal_id, schedule)
                return True
            except ScheduleAlreadyRunningError:
                pass  # created meanwhile: replace it like any other

        def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await handle.update(replace)
    except RPCError as err:
        if err.status == RPCStatusCode.INVALID_ARGUMENT:  # e.g. a cron line Temporal rejects
            raise ApiError(400, f"Temporal refused the schedule: {err.message}") from None
        raise
    return False


def _memo(client: Client, desc: ScheduleDescription | None, key: str) -> Any:
    action = desc.schedule.action if desc else None
    if not isinstance(action, ScheduleActionStartWorkflow) or not action.memo:
        return None
    payload = action.memo.get(key)
    if payload is None:
        return None
    return client.data_converter.payload_converter.from_payload(payload)
