"""Finding the work a maintenance window pauses, and pausing and resuming it.

Running batch joins, rollouts and command jobs on this deployment's task queue are
found through Temporal visibility and asked for their progress: one already paused (by
an operator) or ending is left out, so the window never resumes what it did not pause.
Backup schedules of this task queue are found the same way; one already paused is left
out, and the window pauses the others with its own note. Pausing and resuming are
signals by workflow ID (batch joins and jobs continue as new under the same ID), which
the workflows ignore when they do not apply, so a retry is harmless.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from temporalio import activity
from temporalio.client import Client, ScheduleActionStartWorkflow, WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from store.settings import Settings
from workflows.contracts.backup import BACKUP_SCHEDULE_PREFIX
from workflows.contracts.commands import (
    COMMAND_JOB_WORKFLOW,
    JOB_PAUSE_SIGNAL,
    JOB_PROGRESS_QUERY,
    JOB_RESUME_SIGNAL,
)
from workflows.contracts.join import (
    BATCH_JOIN_WORKFLOW,
    BATCH_PAUSE_SIGNAL,
    BATCH_PROGRESS_QUERY,
    BATCH_RESUME_SIGNAL,
)
from workflows.contracts.maintenance import (
    SCHEDULE_PAUSE_NOTE,
    FindWorkInput,
    MaintenanceActivity,
    PausedItem,
    PausedKind,
    SetPausedInput,
)
from workflows.contracts.workloads import (
    ROLLOUT_PAUSE_SIGNAL,
    ROLLOUT_PROGRESS_QUERY,
    ROLLOUT_RESUME_SIGNAL,
    WORKLOAD_ROLLOUT_WORKFLOW,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pausable:
    workflow_type: str
    query: str
    state_field: str  # the progress field that says how it goes
    running: frozenset[str]  # the values of that field a pause applies to
    pause: str
    resume: str


PAUSABLE: dict[PausedKind, Pausable] = {
    PausedKind.BATCH_JOIN: Pausable(
        BATCH_JOIN_WORKFLOW,
        BATCH_PROGRESS_QUERY,
        "status",
        frozenset({"running"}),
        BATCH_PAUSE_SIGNAL,
        BATCH_RESUME_SIGNAL,
    ),
    PausedKind.ROLLOUT: Pausable(
        WORKLOAD_ROLLOUT_WORKFLOW,
        ROLLOUT_PROGRESS_QUERY,
        "state",
        frozenset({"running"}),
        ROLLOUT_PAUSE_SIGNAL,
        ROLLOUT_RESUME_SIGNAL,
    ),
    PausedKind.COMMAND_JOB: Pausable(
        COMMAND_JOB_WORKFLOW,
        JOB_PROGRESS_QUERY,
        "state",
        frozenset({"running"}),
        JOB_PAUSE_SIGNAL,
        JOB_RESUME_SIGNAL,
    ),
}


def visibility_query(workflow_type: str, task_queue: str) -> str:
    # Names come from our contracts and settings; quotes would end the literal.
    if "'" in workflow_type or "'" in task_queue:
        raise ValueError("quotes in a workflow type or task queue")
    return (
        f"WorkflowType = '{workflow_type}' AND ExecutionStatus = 'Running' "
        f"AND TaskQueue = '{task_queue}'"
    )


class MaintenanceWorkActivities:
    def __init__(self, *, settings: Settings, client: Client | None = None) -> None:
        """`client`: None inside a worker (the running activity's client is used)."""
        self._settings = settings
        self._client = client

    @activity.defn(name=MaintenanceActivity.FIND_RUNNING_WORK)
    async def find_running_work(self, inp: FindWorkInput) -> list[PausedItem]:
        task_queue = inp.task_queue or self._settings.task_queue
        found: list[PausedItem] = []
        for kind, pausable in PAUSABLE.items():
            found.extend(await self._running(kind, pausable, task_queue))
        found.extend(await self._schedules(task_queue))
        return found

    @activity.defn(name=MaintenanceActivity.SET_WORK_PAUSED)
    async def set_work_paused(self, inp: SetPausedInput) -> None:
        for item in inp.items:
            activity.heartbeat(item.id)
            if item.kind is PausedKind.SCHEDULE:
                await self._set_schedule(item.id, paused=inp.paused)
                continue
            pausable = PAUSABLE[item.kind]
            signal = pausable.pause if inp.paused else pausable.resume
            try:
                await self._temporal().get_workflow_handle(item.id).signal(signal)
            except RPCError as err:
                if err.status != RPCStatusCode.NOT_FOUND:
                    raise
                # It ended meanwhile: nothing to pause or resume.
                logger.info("maintenance: %s %s has ended", item.kind.value, item.id)

    async def _running(
        self, kind: PausedKind, pausable: Pausable, task_queue: str
    ) -> list[PausedItem]:
        client = self._temporal()
        found: list[PausedItem] = []
        query = visibility_query(pausable.workflow_type, task_queue)
        async for listed in client.list_workflows(query):
            handle = client.get_workflow_handle(listed.id, run_id=listed.run_id)
            try:
                progress: Any = await handle.query(pausable.query)
            except (RPCError, WorkflowQueryFailedError):
                # Ended since it was listed, or it cannot answer: nothing to pause.
                logger.info("maintenance: %s %s did not answer", kind.value, listed.id)
                continue
            state = progress.get(pausable.state_field) if isinstance(progress, dict) else None
            if state in pausable.running:
                found.append(PausedItem(kind=kind, id=listed.id, run_id=listed.run_id))
        return found

    async def _schedules(self, task_queue: str) -> list[PausedItem]:
        client = self._temporal()
        found: list[PausedItem] = []
        async for listed in await client.list_schedules():
            if not listed.id.startswith(BACKUP_SCHEDULE_PREFIX):
                continue
            described = await client.get_schedule_handle(listed.id).describe()
            action = described.schedule.action
            if not isinstance(action, ScheduleActionStartWorkflow):
                continue
            if action.task_queue != task_queue or described.schedule.state.paused:
                continue  # another deployment's, or paused by an operator: left as it is
            found.append(PausedItem(kind=PausedKind.SCHEDULE, id=listed.id))
        return found

    async def _set_schedule(self, schedule_id: str, *, paused: bool) -> None:
        handle = self._temporal().get_schedule_handle(schedule_id)
        try:
            state = (await handle.describe()).schedule.state
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            logger.info("maintenance: schedule %s is gone", schedule_id)
            return
        if paused and not state.paused:
            await handle.pause(note=SCHEDULE_PAUSE_NOTE)
        elif not paused and state.paused and state.note == SCHEDULE_PAUSE_NOTE:
            # Only our own pause: one an operator made since (another note) stays.
            await handle.unpause(note="unpaused: maintenance ended")

    def _temporal(self) -> Client:
        return self._client if self._client is not None else activity.client()
