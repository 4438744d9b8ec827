"""The scheduled backup: one Temporal Schedule, made idempotently at worker start.

The configuration (EDGEWRIGHT_BACKUP_SCHEDULE_*, EDGEWRIGHT_BACKUP_KEEP_*) describes one
schedule, and every worker replica calls `ensure_backup_schedule` when it starts:
- no schedule yet: it is created from the configuration;
- a schedule made from this same configuration: left alone, so what operators changed
  through the API (a pause, another cron line) survives restarts;
- a schedule made from an earlier configuration: brought to the current one, since a
  changed configuration is the newer intent (paused still if a maintenance window
  paused it: the window's end resumes it);
- disabled by configuration: the schedule, if there is one, is paused (and resumed when
  the configuration enables it again);
- a configuration that runs backups closer than EDGEWRIGHT_BACKUP_SCHEDULE_MIN_INTERVAL_SECONDS
  or keeps every backup without EDGEWRIGHT_BACKUP_SCHEDULE_KEEP_FOREVER: ScheduleRefused,
  before anything is created or changed.
The schedule remembers which configuration it was made from in its action's memo.
"""

from __future__ import annotations

import dataclasses
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
    schedule_problems,
)
from workflows.contracts.maintenance import SCHEDULE_PAUSE_NOTE

log = logging.getLogger(__name__)

DISABLED_NOTE = "paused: EDGEWRIGHT_BACKUP_SCHEDULE_ENABLED is false"
Outcome = Literal["created", "updated", "unchanged", "paused", "resumed", "absent"]


class ScheduleRefused(ValueError):
    """The configured schedule runs too often or keeps everything unasked; says which."""


# What each field of the configured schedule comes from, for the error message.
_SETTINGS = {
    "interval_seconds": "EDGEWRIGHT_BACKUP_SCHEDULE_INTERVAL_SECONDS",
    "cron": "EDGEWRIGHT_BACKUP_SCHEDULE_CRON",
    "retention": "EDGEWRIGHT_BACKUP_KEEP_LAST=0 with EDGEWRIGHT_BACKUP_KEEP_DAYS=0",
    "keep_forever": "EDGEWRIGHT_BACKUP_SCHEDULE_KEEP_FOREVER",
}


def configured_schedule(settings: Settings) -> BackupScheduleConfig:
    """The schedule the configuration describes; ScheduleRefused when it may not run."""
    interval = settings.backup_schedule_interval_seconds or None
    config = BackupScheduleConfig(
        cron=None if interval else settings.backup_schedule_cron,
        interval_seconds=interval,
        include=ALL_INCLUDES,
        retention=Retention(
            keep_last=settings.backup_keep_last, keep_days=settings.backup_keep_days
        ),
        keep_forever=settings.backup_schedule_keep_forever,
    )
    floor = settings.backup_schedule_min_interval_seconds
    problems = schedule_problems(config, min_interval_seconds=floor)
    if problems:
        reasons = "; ".join(f"{_SETTINGS[field]}: {why}" for field, why in problems.items())
        raise ScheduleRefused(
            f"the configured backup schedule is refused ({reasons}). Runs may be no closer "
            f"than EDGEWRIGHT_BACKUP_SCHEDULE_MIN_INTERVAL_SECONDS={floor}; to keep every "
            "backup, set EDGEWRIGHT_BACKUP_SCHEDULE_KEEP_FOREVER=true"
        )
    return config


def config_fingerprint(config: BackupScheduleConfig, *, task_queue: str) -> str:
    # keep_forever came later: left out while false, so an upgrade alone does not look
    # like a changed configuration (which would overwrite what operators changed).
    exclude = None if config.keep_forever else {"keep_forever"}
    canonical = config.model_dump_json(exclude=exclude) + task_queue
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
        held = description.schedule.state
        if held.paused and held.note == SCHEDULE_PAUSE_NOTE:
            # A maintenance window holds it: the window's end resumes it, not this start.
            schedule = dataclasses.replace(
                schedule, state=dataclasses.replace(schedule.state, paused=True, note=held.note)
            )

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
