"""CommandJobWorkflow: one command across a selection of devices, rolled out at a rate.

Each device gets its own CommandWorkflow child (`command/{job_id}.{device_id}`, with the
per-device timeouts), so every device's outcome is recorded and findable. The job starts
at most `rate_per_minute` children a minute and keeps at most `max_in_flight` running;
it aborts (cancelling the children still running) once at least
`min_executed_for_abort` devices finished and the failed share (failed and timed out)
reaches `abort_threshold_percent`. Signals pause, resume and abort it; the progress query
reports the counts. Devices are paged from the store in device-ID order, and the run
continues as new after a few thousand children, carrying its counts and the last device
started, so a fleet of any size stays within Temporal's history limits.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import (
    ChildWorkflowError,
    WorkflowAlreadyStartedError,
    is_cancelled_exception,
)
from temporalio.workflow import ParentClosePolicy

from workflows.commands.command import command_search_attributes
from workflows.contracts import summaries
from workflows.contracts.commands import (
    COMMAND_JOB_WORKFLOW,
    COMMAND_WORKFLOW,
    JOB_ABORT_SIGNAL,
    JOB_PAUSE_SIGNAL,
    JOB_PROGRESS_QUERY,
    JOB_RESUME_SIGNAL,
    CommandInput,
    CommandJobInput,
    CommandState,
    CommandStatus,
    JobPageInput,
    JobProgress,
    JobState,
    command_workflow_id,
    count_job_devices,
    job_command_id,
    select_job_devices,
)
from workflows.contracts.common import COMMAND_ID, STAGE

PAGE_SIZE = 500
STEP_TIMEOUT = timedelta(seconds=30)
RETRY = RetryPolicy(maximum_interval=timedelta(seconds=10), maximum_attempts=0)

ArgT = TypeVar("ArgT")
ResultT = TypeVar("ResultT")


@workflow.defn(name=COMMAND_JOB_WORKFLOW)
class CommandJobWorkflow:
    @workflow.init
    def __init__(self, inp: CommandJobInput) -> None:
        self._inp = inp
        state = JobState.PAUSED if inp.paused else JobState.RUNNING
        if inp.carried is not None:
            runs = inp.carried.runs + 1
            self._progress = inp.carried.model_copy(update={"runs": runs, "state": state})
        else:
            self._progress = JobProgress(
                job_id=inp.job_id,
                command=inp.command,
                state=state,
                rate_per_minute=inp.rate_per_minute,
                abort_threshold_percent=inp.abort_threshold_percent,
                min_executed_for_abort=inp.min_executed_for_abort,
                created_at=workflow.now(),
            )
        self._paused = inp.paused
        self._abort_reason: str | None = None
        self._in_flight: dict[str, asyncio.Task[None]] = {}
        self._cursor = inp.cursor
        self._wake = False

    @workflow.run
    async def run(self, inp: CommandJobInput) -> JobProgress:
        workflow.upsert_search_attributes(
            [COMMAND_ID.value_set(inp.job_id), STAGE.value_set(self._progress.state.value)]
        )
        try:
            if inp.carried is None:
                total: int = await _activity(count_job_devices, inp.selection)
                self._set(total=total)
            outcome = await self._roll_out()
        except asyncio.CancelledError:
            self._abort_reason = self._abort_reason or "cancelled"
            await self._stop_in_flight()
            self._end(JobState.CANCELLED)
            await workflow.wait_condition(workflow.all_handlers_finished)
            raise
        if outcome == "continue":
            await workflow.wait_condition(workflow.all_handlers_finished)
            workflow.continue_as_new(
                inp.model_copy(
                    update={
                        "carried": self._progress,
                        "cursor": self._cursor,
                        "paused": self._paused,
                    }
                )
            )
        if self._abort_reason is not None:
            await self._stop_in_flight()
            self._end(JobState.ABORTED)
        else:
            self._end(JobState.COMPLETED)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._progress

    async def _roll_out(self) -> str:
        """Start children at the rate until done, aborted, or due to continue as new."""
        inp = self._inp
        # Starts are released in bursts once per tick (at least a second apart), so a fast
        # rate does not cost a timer per device.
        tick = max(1.0, 60.0 / inp.rate_per_minute)
        burst = max(1.0, inp.rate_per_minute * tick / 60.0)
        allowance = burst
        last = workflow.now()
        buffer: list[str] = []
        exhausted = False
        started_here = 0
        while self._abort_reason is None:
            now = workflow.now()
            if not self._paused:
                gained = (now - last).total_seconds() * inp.rate_per_minute / 60.0
                allowance = min(burst, allowance + gained)
            last = now
            if not buffer and not exhausted and not self._paused:
                page = JobPageInput(selection=inp.selection, after=self._cursor, limit=PAGE_SIZE)
                buffer = await _activity(select_job_devices, page)
                exhausted = len(buffer) < PAGE_SIZE
            if not buffer and exhausted and not self._in_flight:
                return "completed"
            due_to_continue = (
                started_here >= inp.continue_after or workflow.info().is_continue_as_new_suggested()
            )
            if due_to_continue and not self._in_flight:
                return "continue"
            limited = False
            while buffer and not self._paused and not due_to_continue:
                if len(self._in_flight) >= inp.max_in_flight:
                    break
                if started_here >= inp.continue_after:
                    break
                if allowance < 1.0:
                    limited = True
                    break
                await self._start(buffer.pop(0))
                started_here += 1
                allowance -= 1.0
            self._wake = False
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: self._wake, timeout=tick if limited else None)
        return "aborted"

    async def _start(self, device_id: str) -> None:
        inp = self._inp
        command_id = job_command_id(inp.job_id, device_id)
        self._cursor = device_id
        child = CommandInput(
            command_id=command_id,
            device_id=device_id,
            command=inp.command,
            parameters=inp.parameters,
            timeout_seconds=inp.timeout_seconds,
            connect_timeout_seconds=inp.connect_timeout_seconds,
            origin=f"job/{inp.job_id}",
            requested_by=inp.requested_by,
        )
        self._set(started=self._progress.started + 1)
        try:
            handle = await workflow.start_child_workflow(
                COMMAND_WORKFLOW,
                child,
                id=command_workflow_id(command_id),
                static_summary=summaries.command_summary(child.command, child.device_id),
                result_type=CommandStatus,
                parent_close_policy=ParentClosePolicy.REQUEST_CANCEL,
                search_attributes=command_search_attributes(child),
                execution_timeout=timedelta(
                    seconds=inp.connect_timeout_seconds + inp.timeout_seconds + 3600
                ),
            )
        except WorkflowAlreadyStartedError:
            # Only when the same job ID was run before: that command is not ours to count.
            self._count(CommandState.FAILED)
            return
        self._in_flight[device_id] = asyncio.create_task(self._watch(device_id, handle))
        self._set(in_flight=len(self._in_flight))

    async def _watch(self, device_id: str, handle: Any) -> None:
        try:
            status: CommandStatus = await handle
            state = status.state
        except ChildWorkflowError as err:
            state = CommandState.CANCELLED if is_cancelled_exception(err) else CommandState.FAILED
        except asyncio.CancelledError:
            state = CommandState.CANCELLED
        self._in_flight.pop(device_id, None)
        self._count(state)

    def _count(self, state: CommandState) -> None:
        p = self._progress
        changes: dict[str, Any] = {"in_flight": len(self._in_flight)}
        if state == CommandState.COMPLETED:
            changes["succeeded"] = p.succeeded + 1
        elif state == CommandState.CANCELLED:
            changes["cancelled"] = p.cancelled + 1
        else:
            changes["failed"] = p.failed + 1
            if state == CommandState.TIMED_OUT:
                changes["timed_out"] = p.timed_out + 1
        self._set(**changes)
        p = self._progress
        if (
            self._abort_reason is None
            and p.executed >= p.min_executed_for_abort
            and p.failed_percent >= p.abort_threshold_percent
        ):
            self._abort_reason = (
                f"{p.failed} of {p.executed} devices failed ({p.failed_percent:g}%), "
                f"threshold {p.abort_threshold_percent:g}%"
            )
        self._wake = True

    async def _stop_in_flight(self) -> None:
        """Cancel the children still running and wait until each has recorded its end."""
        tasks = list(self._in_flight.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    # --- messages ------------------------------------------------------------------

    @workflow.query(name=JOB_PROGRESS_QUERY)
    def progress(self) -> JobProgress:
        return self._progress

    @workflow.signal(name=JOB_PAUSE_SIGNAL)
    def pause(self) -> None:
        if not self._progress.state.final and not self._paused:
            self._paused = True
            self._set(state=JobState.PAUSED)
            self._wake = True

    @workflow.signal(name=JOB_RESUME_SIGNAL)
    def resume(self) -> None:
        if not self._progress.state.final and self._paused:
            self._paused = False
            self._set(state=JobState.RUNNING)
            self._wake = True

    @workflow.signal(name=JOB_ABORT_SIGNAL)
    def abort(self, reason: str | None = None) -> None:
        if self._abort_reason is None and not self._progress.state.final:
            self._abort_reason = reason or "aborted on request"
            self._wake = True

    # --- state -----------------------------------------------------------------------

    def _set(self, **changes: Any) -> None:
        before = self._progress.state
        self._progress = self._progress.model_copy(update=changes)
        # Shown on the run's page in the Temporal UI; not part of its history.
        workflow.set_current_details(summaries.job_details(self._progress))
        if self._progress.state != before:
            workflow.upsert_search_attributes([STAGE.value_set(self._progress.state.value)])

    def _end(self, state: JobState) -> None:
        self._set(
            state=state,
            in_flight=len(self._in_flight),
            abort_reason=self._abort_reason,
            finished_at=workflow.now(),
        )


async def _activity(stub: Callable[[ArgT], Awaitable[ResultT]], arg: ArgT) -> ResultT:
    return await workflow.execute_activity(
        stub,
        arg,
        summary=summaries.activity_summary(stub, arg),
        start_to_close_timeout=STEP_TIMEOUT,
        retry_policy=RETRY,
    )
