"""The scheduled backup: one Temporal Schedule, made idempotently at worker start.

The configuration (EDGEWRIGHT_BACKUP_SCHEDULE_*, EDGEWRIGHT_BACKUP_KEEP_*) describes one
schedule, and every worker replica calls `ensure_backup_schedule` when it starts:
- no schedule yet: it is created from the configuration;
- a schedule made from this same configuration: left alone, so what operators changed
  through the API (a pause, another cron line) survives restarts;
- a schedule made from an earlier configuration: brought to the current one, since a
  changed configuration is the newer intent;
- disabled by configuration: the schedule, if there is one, is paused (and resumed when
  the configuration enables it again).
The schedule remembers which configuration it was made from in its action's memo.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Literal

from temporalio.client import (
    Client,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleDescription,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from store.settings import Settings
from workflows.contracts.backup import (
    ALL_INCLUDES,
    SCHEDULE_CONFIG_MEMO,
    BackupScheduleConfig,
    Retention,
    backup_schedule,
    backup_schedule_temporal_id,
)

log = logging.getLogger(__name__)

DISABLED_NOTE = "paused: EDGEWRIGHT_BACKUP_SCHEDULE_ENABLED is false"
Outcome = Literal["created", "updated", "unchanged", "paused", "resumed", "absent"]


def configured_schedule(settings: Settings) -> BackupScheduleConfig:
    interval = settings.backup_schedule_interval_seconds or None
    return BackupScheduleConfig(
        cron=None if interval else settings.backup_schedule_cron,
        interval_seconds=interval,
        include=ALL_INCLUDES,
        retention=Retention(
            keep_last=settings.backup_keep_last, keep_days=settings.backup_keep_days
        ),
    )


def config_fingerprint(config: BackupScheduleConfig, *, task_queue: str) -> str:
    canonical = config.model_dump_json() + task_queue
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


async def ensure_backup_schedule(client: Client, *, settings: Settings) -> Outcome:
    schedule_id = backup_schedule_temporal_id(settings.backup_schedule_id)
    handle = client.get_schedule_handle(schedule_id)
    if not settings.backup_schedule_enabled:
        description = await _describe(client, schedule_id)
        if description is None or description.schedule.state.paused:
            return "absent" if description is None else "unchanged"
        await handle.pause(note=DISABLED_NOTE)
        log.info("backup schedule %s paused: disabled by configuration", schedule_id)
        return "paused"
    config = configured_schedule(settings)
    fingerprint = config_fingerprint(config, task_queue=settings.task_queue)
    schedule = backup_schedule(
        config,
        schedule_id=settings.backup_schedule_id,
        task_queue=settings.task_queue,
        config_fingerprint=fingerprint,
    )
    try:
        await client.create_schedule(schedule_id, schedule)
        log.info("backup schedule %s created", schedule_id)
        return "created"
    except ScheduleAlreadyRunningError:
        pass  # another replica, or an earlier start, made it
    description = await handle.describe()
    if applied_fingerprint(client, description) != fingerprint:

        def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await handle.update(replace)
        log.info("backup schedule %s updated to the changed configuration", schedule_id)
        return "updated"
    state = description.schedule.state
    if state.paused and state.note == DISABLED_NOTE:
        await handle.unpause(note="resumed: EDGEWRIGHT_BACKUP_SCHEDULE_ENABLED is true again")
        return "resumed"
    return "unchanged"


def applied_fingerprint(client: Client, description: ScheduleDescription) -> str | None:
    """The configuration fingerprint the schedule was last made from, if any."""
    action = description.schedule.action
    if not isinstance(action, ScheduleActionStartWorkflow) or not action.memo:
        return None
    payload = action.memo.get(SCHEDULE_CONFIG_MEMO)
    if payload is None:
        return None
    value = client.data_converter.payload_converter.from_payload(payload, str)
    return str(value)


async def _describe(client: Client, schedule_id: str) -> ScheduleDescription | None:
    try:
        return await client.get_schedule_handle(schedule_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
