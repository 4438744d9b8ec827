"""Stand-ins for the maintenance activities, registered under the real names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import activity

from workflows.contracts.maintenance import (
    FindWorkInput,
    MaintenanceActivity,
    MaintenanceStatus,
    PausedItem,
    PausedKind,
    SetPausedInput,
)

RUNNING = [
    PausedItem(kind=PausedKind.BATCH_JOIN, id="batch-join/b1", run_id="r1"),
    PausedItem(kind=PausedKind.ROLLOUT, id="rollout/web/2", run_id="r2"),
    PausedItem(kind=PausedKind.COMMAND_JOB, id="command-job/j1", run_id="r3"),
    PausedItem(kind=PausedKind.SCHEDULE, id="backup-schedule/nightly"),
]


class FakeMaintenanceActivities:
    """Records what the workflow asked for, in order."""

    def __init__(self, running: list[PausedItem] | None = None) -> None:
        self.running = list(RUNNING if running is None else running)
        self.records: list[MaintenanceStatus] = []
        self.announced: list[MaintenanceStatus] = []
        self.pause_calls: list[SetPausedInput] = []

    def all(self) -> list[Callable[..., Any]]:
        @activity.defn(name=MaintenanceActivity.RECORD)
        async def record(inp: MaintenanceStatus) -> None:
            self.records.append(inp)

        @activity.defn(name=MaintenanceActivity.ANNOUNCE)
        async def announce(inp: MaintenanceStatus) -> None:
            self.announced.append(inp)

        @activity.defn(name=MaintenanceActivity.FIND_RUNNING_WORK)
        async def find(inp: FindWorkInput) -> list[PausedItem]:
            return self.running

        @activity.defn(name=MaintenanceActivity.SET_WORK_PAUSED)
        async def set_paused(inp: SetPausedInput) -> None:
            self.pause_calls.append(inp)

        return [record, announce, find, set_paused]
