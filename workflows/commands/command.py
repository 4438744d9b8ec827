"""CommandWorkflow: one command to one device, from request to recorded outcome.

Device known → if offline, wait (up to the connect timeout) for it to come online →
publish on `cloudcore/device/{id}/command` → wait for its result until `timeout` →
record. The bridge signals `device_online` when the device comes back and
`device_result` when it answers; the run also looks at presence on its own now and then,
so a lost signal costs a little time, never the command. A result that arrives after the
command ended is recorded as late and never changes the state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ApplicationError

from workflows.contracts import summaries
from workflows.contracts.commands import (
    COMMAND_ACCEPTED_UPDATE,
    COMMAND_CANCEL_UPDATE,
    COMMAND_DEVICE_ONLINE_SIGNAL,
    COMMAND_FINISHED_UPDATE,
    COMMAND_RESULT_SIGNAL,
    COMMAND_STATUS_QUERY,
    COMMAND_WORKFLOW,
    CommandInput,
    CommandState,
    CommandStatus,
    DeviceResult,
    DispatchInput,
    DispatchOutcome,
    LateResultInput,
    dispatch_command,
    record_command,
    record_late_result,
)
from workflows.contracts.common import COMMAND_ID, DEVICE_ID, STAGE, CommandErrorType, ErrorType

MAX_POLL_SECONDS = 300.0
MAX_POLLS = 200
_DECIDED_BY_A_TIMER = (CommandErrorType.TIMED_OUT.value, CommandErrorType.UNREACHABLE.value)
# Store writes and publishes are quick and idempotent: local activities, retried until
# they succeed (a broker restart or a locked SQLite file only delays them).
STEP_TIMEOUT = timedelta(seconds=15)
RETRY = RetryPolicy(maximum_interval=timedelta(seconds=5), maximum_attempts=0)

ArgT = TypeVar("ArgT")
ResultT = TypeVar("ResultT")


# Outside the sandbox, like DeviceJoinWorkflow: in the sandbox, every activation and every
# payload the SDK encodes or decodes for a run (three passes over each completion) went
# through it, a fifth of the worker's busy CPU under 50 commands at once (py-spy during
# bench.command_latency). Determinism is kept by the import rules (.importlinter) and
# checked by replaying stored histories (tests/workflows/test_stored_histories.py).
@workflow.defn(name=COMMAND_WORKFLOW, sandboxed=False)
class CommandWorkflow:
    @workflow.init
    def __init__(self, inp: CommandInput) -> None:
        self._inp = inp
        self._status = CommandStatus(
            command_id=inp.command_id,
            device_id=inp.device_id,
            command=inp.command,
            parameters=inp.parameters,
            state=CommandState.QUEUED,
            timeout_seconds=inp.timeout_seconds,
            connect_timeout_seconds=inp.connect_timeout_seconds,
            origin=inp.origin,
            fingerprint=inp.fingerprint,
            requested_by=inp.requested_by,
            queued_at=workflow.now(),
        )
        self._result: DeviceResult | None = None
        self._online_signalled = False
        self._cancel_requested = False
        self._late: DeviceResult | None = None

    @workflow.run
    async def run(self, inp: CommandInput) -> CommandStatus:
        # The API and parent jobs set these at start; only a start without them costs an
        # upsert (each one is a visibility write on the server).
        given = workflow.info().typed_search_attributes
        wanted = [
            COMMAND_ID.value_set(inp.command_id),
            DEVICE_ID.value_set(inp.device_id),
            STAGE.value_set(CommandState.QUEUED.value),
        ]
        missing = [update for update in wanted if given.get(update.key) is None]
        if missing:
            workflow.upsert_search_attributes(missing)
        try:
            await self._execute()
        except asyncio.CancelledError:
            # Cancelled from outside (the Temporal UI, or the job this command belongs to).
            self._finish(CommandState.CANCELLED, CommandErrorType.CANCELLED, "cancelled")
            await self._record()
            await workflow.wait_condition(workflow.all_handlers_finished)
            raise
        if self._late is not None:
            await _local(record_late_result, self._late_input())
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._status

    async def _execute(self) -> None:
        inp = self._inp
        connect_deadline = self._status.queued_at + timedelta(seconds=inp.connect_timeout_seconds)
        # The bridge signals when the device comes back; looking at presence ourselves is
        # only the safety net, so the look backs off: a week-long connect timeout stays a
        # few hundred looks, far below history limits.
        poll = inp.presence_poll_seconds
        longest_poll = max(poll, MAX_POLL_SECONDS, inp.connect_timeout_seconds / MAX_POLLS)
        outcome = await self._dispatch()
        if outcome.node_name is not None:
            self._status = self._status.model_copy(update={"node_name": outcome.node_name})
        if not outcome.known:
            self._finish(
                CommandState.FAILED,
                CommandErrorType.UNKNOWN_DEVICE,
                f"device {inp.device_id} is not in the inventory",
            )
            await self._record()
            return
        while not outcome.online:
            remaining = (connect_deadline - workflow.now()).total_seconds()
            if remaining <= 0:
                self._finish(
                    CommandState.FAILED,
                    CommandErrorType.UNREACHABLE,
                    f"device {inp.device_id} did not come online within "
                    f"{inp.connect_timeout_seconds:g}s",
                )
                await self._record()
                return
            self._waiting(True)
            self._online_signalled = False
            try:
                await workflow.wait_condition(
                    lambda: self._online_signalled or self._cancel_requested,
                    timeout=min(poll, remaining),
                )
            except TimeoutError:
                poll = min(poll * 2, longest_poll)
            if self._cancel_requested:
                self._finish(CommandState.CANCELLED, CommandErrorType.CANCELLED, "cancelled")
                await self._record()
                return
            outcome = await self._dispatch()

        self._waiting(False)
        self._status = self._status.model_copy(
            update={"state": CommandState.SENT, "sent_at": workflow.now()}
        )
        self._set_stage(CommandState.SENT.value)
        try:
            # The timer is exactly `timeout`: the run times out on time, not on a poll.
            await workflow.wait_condition(
                lambda: self._result is not None or self._cancel_requested,
                timeout=inp.timeout_seconds,
            )
        except TimeoutError:
            self._finish(
                CommandState.TIMED_OUT,
                CommandErrorType.TIMED_OUT,
                f"no answer within {inp.timeout_seconds:g}s",
            )
        else:
            if self._result is not None:
                self._finish_with(self._result)
            else:
                self._finish(CommandState.CANCELLED, CommandErrorType.CANCELLED, "cancelled")
        await self._record()

    # --- messages ------------------------------------------------------------------

    @workflow.query(name=COMMAND_STATUS_QUERY)
    def status(self) -> CommandStatus:
        return self._status

    @workflow.signal(name=COMMAND_RESULT_SIGNAL)
    def device_result(self, result: DeviceResult) -> None:
        if result.command_id != self._inp.command_id:
            return
        if self._status.state.final:
            self._late = self._late or result
        elif self._result is None:  # a repeated answer (QoS 1 redelivery) changes nothing
            self._result = result

    @workflow.signal(name=COMMAND_DEVICE_ONLINE_SIGNAL)
    def device_online(self) -> None:
        self._online_signalled = True

    @workflow.update(name=COMMAND_ACCEPTED_UPDATE)
    async def accepted(self, fingerprint: str) -> CommandStatus:
        """Answers once the command is sent, waits for its device, or has ended."""
        await workflow.wait_condition(
            lambda: self._status.state != CommandState.QUEUED or self._status.waiting_for_device
        )
        return self._status

    @workflow.update(name=COMMAND_FINISHED_UPDATE)
    async def finished(self, fingerprint: str) -> CommandStatus:
        await workflow.wait_condition(lambda: self._status.state.final)
        return self._status

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
        """Cancel unless already over; answers with the final status either way."""
        if not self._status.state.final:
            self._cancel_requested = True
        await workflow.wait_condition(lambda: self._status.state.final)
        return self._status

    # --- steps -----------------------------------------------------------------------

    async def _dispatch(self) -> DispatchOutcome:
        return await _local(dispatch_command, DispatchInput(status=self._status))

    async def _record(self) -> None:
        if self._status.error_type not in _DECIDED_BY_A_TIMER:
            # Decided by a message already in history (an answer, a cancel): a replay
            # decides the same, so the quicker local activity is safe.
            await _local(record_command, self._status)
            return
        # Decided by a timer: a regular activity, whose scheduling completes the workflow
        # task that decided, puts the decision in history before it is written anywhere.
        # With a local activity, a workflow task that failed meanwhile would replay the
        # timer together with an answer that came after it; the answer, handled first,
        # would turn a recorded `timed_out` into `completed`. The API's `finished` update
        # has answered by then, so this costs it nothing.
        await workflow.execute_activity(
            record_command,
            self._status,
            summary=summaries.activity_summary(record_command, self._status),
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=RETRY,
        )

    def _late_input(self) -> LateResultInput:
        assert self._late is not None
        return LateResultInput(command_id=self._inp.command_id, result=self._late)

    def _waiting(self, waiting: bool) -> None:
        if self._status.waiting_for_device != waiting:
            self._status = self._status.model_copy(update={"waiting_for_device": waiting})
            if waiting:
                self._set_stage("waiting_for_device")

    def _finish_with(self, result: DeviceResult) -> None:
        state = CommandState.COMPLETED if result.success else CommandState.FAILED
        error_type = None if result.success else CommandErrorType.DEVICE_FAILED
        self._finish(state, error_type, result.error, success=result.success, result=result)

    def _finish(
        self,
        state: CommandState,
        error_type: CommandErrorType | None,
        error: str | None,
        *,
        success: bool | None = None,
        result: DeviceResult | None = None,
    ) -> None:
        self._status = self._status.model_copy(
            update={
                "state": state,
                "waiting_for_device": False,
                "completed_at": workflow.now(),
                "success": success if success is not None else state == CommandState.COMPLETED,
                "result": result.result if result is not None else None,
                "error": error,
                "error_type": error_type.value if error_type is not None else None,
            }
        )
        self._set_stage(state.value)

    def _set_stage(self, stage: str) -> None:
        workflow.upsert_search_attributes([STAGE.value_set(stage)])


def command_search_attributes(inp: CommandInput) -> TypedSearchAttributes:
    """What a parent sets when it starts a command, so the child need not upsert them."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(COMMAND_ID, inp.command_id),
            SearchAttributePair(DEVICE_ID, inp.device_id),
            SearchAttributePair(STAGE, CommandState.QUEUED.value),
        ]
    )


async def _local(stub: Callable[[ArgT], Awaitable[ResultT]], arg: ArgT) -> ResultT:
    return await workflow.execute_local_activity(
        stub,
        arg,
        summary=summaries.activity_summary(stub, arg),
        start_to_close_timeout=STEP_TIMEOUT,
        retry_policy=RETRY,
    )
