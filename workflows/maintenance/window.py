"""MaintenanceWorkflow: record the window → announce → pause running work and backup
schedules → hold until stopped or the deadline → resume exactly what it paused →
record the end → announce.

The store row written first is what the API's write gate reads, so writes are refused
from the first step to the last. What the window paused is kept in the workflow (and
the row), so resuming after a worker restart or at the deadline touches nothing an
operator had paused before.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy

from workflows.contracts import summaries
from workflows.contracts.maintenance import (
    MAINTENANCE_OPENED_UPDATE,
    MAINTENANCE_STATUS_QUERY,
    MAINTENANCE_STOP_UPDATE,
    MAINTENANCE_WORKFLOW,
    EndReason,
    FindWorkInput,
    MaintenanceInput,
    MaintenanceStatus,
    PausedItem,
    SetPausedInput,
    StopInput,
    announce_maintenance,
    find_running_work,
    record_maintenance,
    set_work_paused,
)

# Finding and pausing ask every running batch, rollout and job in turn: minutes, not
# seconds, for a large fleet.
STEP_TIMEOUT = timedelta(minutes=5)
# Every step is idempotent; keep trying: a window that cannot record its end would keep
# refusing writes until its deadline (the gate honours ends_at on its own).
RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30), maximum_attempts=0)


@workflow.defn(name=MAINTENANCE_WORKFLOW)
class MaintenanceWorkflow:
    @workflow.init
    def __init__(self, inp: MaintenanceInput) -> None:
        info = workflow.info()
        started = workflow.now()
        self._status = MaintenanceStatus(
            active=True,
            reason=inp.reason,
            message=inp.message,
            started_at=started,
            ends_at=started + timedelta(minutes=inp.duration_minutes),
            started_by=inp.started_by,
            workflow_id=info.workflow_id,
            run_id=info.run_id,
        )
        self._opened = False
        self._closed = False
        self._stop: StopInput | None = None

    @workflow.query(name=MAINTENANCE_STATUS_QUERY)
    def status(self) -> MaintenanceStatus:
        return self._status

    @workflow.update(name=MAINTENANCE_OPENED_UPDATE)
    async def opened(self) -> MaintenanceStatus:
        await workflow.wait_condition(lambda: self._opened or self._closed)
        return self._status

    @workflow.update(name=MAINTENANCE_STOP_UPDATE)
    async def stop(self, inp: StopInput) -> MaintenanceStatus:
        if self._stop is None:  # the first stop names who ended it; later ones just wait
            self._stop = inp
        await workflow.wait_condition(lambda: self._closed)
        return self._status

    @workflow.run
    async def run(self, inp: MaintenanceInput) -> MaintenanceStatus:
        await _step(record_maintenance, self._status)
        await _step(announce_maintenance, self._status)
        found: list[PausedItem] = await _step(find_running_work, FindWorkInput())
        # Recorded before pausing: a crash between the two resumes what may be paused.
        self._set(paused=tuple(found))
        await _step(record_maintenance, self._status)
        await _step(set_work_paused, SetPausedInput(items=self._status.paused, paused=True))
        self._opened = True
        workflow.set_current_details(self._details())

        ends_at = self._status.ends_at
        assert ends_at is not None
        left = ends_at - workflow.now()
        if self._stop is None and left > timedelta(0):
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: self._stop is not None, timeout=left)
        stopped = self._stop is not None

        await _step(set_work_paused, SetPausedInput(items=self._status.paused, paused=False))
        self._set(
            active=False,
            stopped_at=workflow.now(),
            ended=EndReason.STOPPED if stopped else EndReason.DEADLINE,
            stopped_by=self._stop.stopped_by if self._stop is not None else None,
        )
        await _step(record_maintenance, self._status)
        await _step(announce_maintenance, self._status)
        self._closed = True
        workflow.set_current_details(self._details())
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._status

    def _set(self, **changes: Any) -> None:
        self._status = self._status.model_copy(update=changes)

    def _details(self) -> str:
        state = "active" if self._status.active else f"ended ({self._status.ended})"
        return f"maintenance {state}; paused {len(self._status.paused)}"


ArgT = TypeVar("ArgT")
ResultT = TypeVar("ResultT")


async def _step(stub: Callable[[ArgT], Awaitable[ResultT]], arg: ArgT) -> ResultT:
    return await workflow.execute_activity(
        stub,
        arg,
        summary=summaries.activity_summary(stub, arg),
        start_to_close_timeout=STEP_TIMEOUT,
        retry_policy=RETRY,
    )
