"""Creating or replacing a housekeeping Temporal Schedule at worker start.

Every worker replica runs this at start, so it must be idempotent: the first creates the
schedule, later ones replace its definition with the one their settings give (an
upgrade's new interval or input takes effect without anyone deleting the schedule).
"""

from __future__ import annotations

import logging
from typing import Literal

from temporalio.client import (
    Client,
    Schedule,
    ScheduleAlreadyRunningError,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

log = logging.getLogger(__name__)


async def create_or_replace_schedule(
    client: Client, schedule_id: str, schedule: Schedule, *, what: str
) -> Literal["created", "updated"]:
    try:
        await client.create_schedule(schedule_id, schedule)
        log.info("%s schedule %s created", what, schedule_id)
        return "created"
    except ScheduleAlreadyRunningError:
        pass  # another replica, or an earlier start, made it

    def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(schedule=schedule)

    await client.get_schedule_handle(schedule_id).update(replace)
    return "updated"
