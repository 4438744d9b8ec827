"""Stand-ins for the command activities, registered under the real names.

`answers` makes a device answer a dispatched command by signalling the run, as the
bridge would: True succeeds, False fails, a missing device hangs (never answers).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from temporalio import activity
from temporalio.client import Client

from workflows.contracts.commands import (
    COMMAND_RESULT_SIGNAL,
    BroadcastOutcome,
    CommandActivity,
    CommandStatus,
    DeviceResult,
    DeviceSelection,
    DispatchInput,
    DispatchOutcome,
    JobPageInput,
    LateResultInput,
)


class FakeCommandActivities:
    def __init__(self, client: Client, *, devices: list[str] | None = None) -> None:
        self.client = client
        self.devices = sorted(devices or [])
        self.known = True
        self.online = True
        self.answers: dict[str, bool] = {}
        self.answer_delay = 0.0
        self.dispatched: list[str] = []
        self.recorded: list[CommandStatus] = []
        self.late: list[LateResultInput] = []
        self.expected = 0
        # Set to hold record_command of a final state until released (late-result tests).
        self.hold_final_record: asyncio.Event | None = None
        self.final_record_started = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    def final(self, command_id: str) -> CommandStatus | None:
        for status in reversed(self.recorded):
            if status.command_id == command_id and status.state.final:
                return status
        return None

    def all(self) -> list[Callable[..., Any]]:
        @activity.defn(name=CommandActivity.DISPATCH_COMMAND)
        async def dispatch(inp: DispatchInput) -> DispatchOutcome:
            status = inp.status
            device = status.device_id or ""
            if not self.known:
                return DispatchOutcome(known=False, online=False)
            if not self.online:
                return DispatchOutcome(known=True, online=False, node_name=f"node-{device}")
            self.dispatched.append(status.command_id)
            if device in self.answers:
                self._answer_later(activity.info().workflow_id or "", status, self.answers[device])
            return DispatchOutcome(
                known=True, online=True, node_name=f"node-{device}", sent_at=datetime.now(UTC)
            )

        @activity.defn(name=CommandActivity.RECORD_COMMAND)
        async def record(inp: CommandStatus) -> None:
            if inp.state.final and self.hold_final_record is not None:
                self.final_record_started.set()
                await self.hold_final_record.wait()
            self.recorded.append(inp)

        @activity.defn(name=CommandActivity.RECORD_LATE_RESULT)
        async def record_late(inp: LateResultInput) -> None:
            self.late.append(inp)

        @activity.defn(name=CommandActivity.PUBLISH_BROADCAST)
        async def broadcast(inp: DispatchInput) -> BroadcastOutcome:
            return BroadcastOutcome(sent_at=datetime.now(UTC), expected=self.expected)

        @activity.defn(name=CommandActivity.COUNT_JOB_DEVICES)
        async def count(inp: DeviceSelection) -> int:
            return len(self.devices)

        @activity.defn(name=CommandActivity.SELECT_JOB_DEVICES)
        async def select(inp: JobPageInput) -> list[str]:
            after = [d for d in self.devices if inp.after is None or d > inp.after]
            return after[: inp.limit]

        return [dispatch, record, record_late, broadcast, count, select]

    def _answer_later(self, workflow_id: str, status: CommandStatus, success: bool) -> None:
        result = DeviceResult(
            command_id=status.command_id,
            device_id=status.device_id or "",
            success=success,
            result={"echo": status.command} if success else None,
            error=None if success else "device says no",
            received_at=datetime.now(UTC),
        )

        async def answer() -> None:
            await asyncio.sleep(self.answer_delay)
            await self.client.get_workflow_handle(workflow_id).signal(COMMAND_RESULT_SIGNAL, result)

        task = asyncio.get_running_loop().create_task(answer())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
