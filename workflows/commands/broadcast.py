"""BroadcastCommandWorkflow: one command to every device of a type, on one topic.

Publishes once on `cloudcore/broadcast/command` (the devices filter by `device_type`),
then collects the devices' answers, which the bridge signals here like any command
result, until every device that was online has answered or `timeout` passes. The run
shares the `command/{command_id}` ID space and the status query with CommandWorkflow, so
the same status endpoint serves both. For per-device tracking, rate limits and abort
thresholds across a large fleet, use CommandJobWorkflow instead.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

from workflows.contracts import summaries
from workflows.contracts.commands import (
    BROADCAST_WORKFLOW,
    COMMAND_ACCEPTED_UPDATE,
    COMMAND_CANCEL_UPDATE,
    COMMAND_FINISHED_UPDATE,
    COMMAND_RESULT_SIGNAL,
    COMMAND_STATUS_QUERY,
    BroadcastInput,
    BroadcastOutcome,
    CommandState,
    CommandStatus,
    DeviceResult,
    DispatchInput,
    publish_broadcast,
    record_command,
)
from workflows.contracts.common import COMMAND_ID, STAGE, CommandErrorType, ErrorType

STEP_TIMEOUT = timedelta(seconds=15)
RETRY = RetryPolicy(maximum_interval=timedelta(seconds=5), maximum_attempts=0)


@workflow.defn(name=BROADCAST_WORKFLOW)
class BroadcastCommandWorkflow:
    @workflow.init
    def __init__(self, inp: BroadcastInput) -> None:
        self._inp = inp
        self._status = CommandStatus(
            command_id=inp.command_id,
            device_type=inp.device_type,
            command=inp.command,
            parameters=inp.parameters,
            state=CommandState.QUEUED,
            timeout_seconds=inp.timeout_seconds,
            fingerprint=inp.fingerprint,
            requested_by=inp.requested_by,
            queued_at=workflow.now(),
        )
        self._expected: int | None = None
        self._answered: set[str] = set()
        self._succeeded = 0
        self._answers: list[DeviceResult] = []
        self._cancel_requested = False

    @workflow.run
    async def run(self, inp: BroadcastInput) -> CommandStatus:
        workflow.upsert_search_attributes(
            [COMMAND_ID.value_set(inp.command_id), STAGE.value_set(CommandState.QUEUED.value)]
        )
        try:
            outcome: BroadcastOutcome = await workflow.execute_local_activity(
                publish_broadcast,
                DispatchInput(status=self._status),
                summary=summaries.activity_summary(publish_broadcast, inp),
                start_to_close_timeout=STEP_TIMEOUT,
                retry_policy=RETRY,
            )
            self._expected = outcome.expected
            self._update(state=CommandState.SENT, sent_at=workflow.now())
            try:
                await workflow.wait_condition(self._all_answered, timeout=inp.timeout_seconds)
            except TimeoutError:
                # Devices that were offline at publish time may still have answered.
                enough = len(self._answered) >= (self._expected or 0)
                self._finish(CommandState.COMPLETED if enough else CommandState.TIMED_OUT)
            else:
                state = CommandState.CANCELLED if self._cancel_requested else None
                self._finish(state or CommandState.COMPLETED)
        except asyncio.CancelledError:
            self._finish(CommandState.CANCELLED)
            await self._record()
            await workflow.wait_condition(workflow.all_handlers_finished)
            raise
        await self._record()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._snapshot()

    def _all_answered(self) -> bool:
        expected = self._expected
        done = expected is not None and expected > 0 and len(self._answered) >= expected
        return done or self._cancel_requested

    # --- messages ------------------------------------------------------------------

    @workflow.query(name=COMMAND_STATUS_QUERY)
    def status(self) -> CommandStatus:
        return self._snapshot()

    @workflow.signal(name=COMMAND_RESULT_SIGNAL)
    def device_result(self, result: DeviceResult) -> None:
        # Answers after the window closed are not counted; duplicates count once.
        if self._status.state.final or result.device_id in self._answered:
            return
        self._answered.add(result.device_id)
        self._succeeded += int(result.success)
        if len(self._answers) < self._inp.max_answers:
            self._answers.append(result)

    @workflow.update(name=COMMAND_ACCEPTED_UPDATE)
    async def accepted(self, fingerprint: str) -> CommandStatus:
        await workflow.wait_condition(lambda: self._status.state != CommandState.QUEUED)
        return self._snapshot()

    @workflow.update(name=COMMAND_FINISHED_UPDATE)
    async def finished(self, fingerprint: str) -> CommandStatus:
        await workflow.wait_condition(lambda: self._status.state.final)
        return self._snapshot()

    @accepted.validator
    def _same_request(self, fingerprint: str) -> None:
        if fingerprint != self._inp.fingerprint:
            raise ApplicationError(
                f"command {self._inp.command_id} exists with another request",
                type=ErrorType.CONFLICT,
            )

    @finished.validator
    def _same_request_finished(self, fingerprint: str) -> None:
        self._same_request(fingerprint)

    @workflow.update(name=COMMAND_CANCEL_UPDATE)
    async def cancel(self) -> CommandStatus:
        if not self._status.state.final:
            self._cancel_requested = True
        await workflow.wait_condition(lambda: self._status.state.final)
        return self._snapshot()

    # --- state -----------------------------------------------------------------------

    def _snapshot(self) -> CommandStatus:
        answered = len(self._answered)
        summary: dict[str, Any] = {
            "expected": self._expected,
            "answered": answered,
            "succeeded": self._succeeded,
            "failed": answered - self._succeeded,
        }
        return self._status.model_copy(
            update={"answers": list(self._answers), "answered": answered, "result": summary}
        )

    def _update(self, **changes: Any) -> None:
        self._status = self._status.model_copy(update=changes)
        if "state" in changes:
            workflow.upsert_search_attributes([STAGE.value_set(changes["state"].value)])

    def _finish(self, state: CommandState) -> None:
        errors = {
            CommandState.TIMED_OUT: (CommandErrorType.TIMED_OUT, "not every device answered"),
            CommandState.CANCELLED: (CommandErrorType.CANCELLED, "cancelled"),
        }
        error_type, error = errors.get(state, (None, None))
        answered = len(self._answered)
        self._update(
            state=state,
            completed_at=workflow.now(),
            success=state == CommandState.COMPLETED and self._succeeded == answered,
            error=error,
            error_type=error_type.value if error_type else None,
        )

    async def _record(self) -> None:
        # Regular, not local: the outcome is in history before it is recorded (see
        # workflows/commands/command.py).
        await workflow.execute_activity(
            record_command,
            self._snapshot(),
            summary=summaries.activity_summary(record_command, self._snapshot()),
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=RETRY,
        )
