"""Command activities: publish commands and broadcasts, record them, page job targets.

The workflows run `dispatch_command`, `record_command`, `record_late_result` and
`publish_broadcast` as local activities: each is one or two short store statements and at
most one QoS 1 publish, and all are idempotent (the row is an upsert keyed by command_id;
a repeated publish is a duplicate the device drops by command_id).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.webhooks.emitter import WebhookEmitter
from adapters.mqtt.events import EventSink, timestamp
from adapters.mqtt.publisher import MqttPublisher
from store import commands
from store.devices import presence
from store.devices import selection as device_selection
from workflows.contracts.commands import (
    BroadcastOutcome,
    CommandActivity,
    CommandState,
    CommandStatus,
    DeviceSelection,
    DispatchInput,
    DispatchOutcome,
    JobPageInput,
    LateResultInput,
)
from workflows.contracts.live import BROADCAST_TOPIC, DeviceTopic, EventType, device_topic
from workflows.contracts.webhooks import WebhookEvent


class CommandActivities:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        publisher: MqttPublisher,
        events: EventSink,
        webhooks: WebhookEmitter | None = None,
    ) -> None:
        self._sessions = sessions
        self._publisher = publisher
        self._events = events
        self._webhooks = webhooks  # command_result

    @activity.defn(name=CommandActivity.DISPATCH_COMMAND)
    async def dispatch_command(self, inp: DispatchInput) -> DispatchOutcome:
        """Publish if the device is known and online; otherwise record it as queued."""
        status = inp.status
        assert status.device_id is not None
        # The presence read and the row's write share one session: a second session cost
        # a pool checkout and a reset on return, each a call into the driver's thread. On
        # SQLite the read runs before the transaction begins (the driver begins one only
        # for a write), so it holds no lock and never fails the write's upgrade.
        async with self._sessions() as session, session.begin():
            found = await presence.presence_of(session, device_id=status.device_id)
            if found is None:
                return DispatchOutcome(known=False, online=False)
            if not found.online:
                waiting = status.model_copy(update={"waiting_for_device": True})
                await self._save_in(session, waiting)
                return DispatchOutcome(known=True, online=False, node_name=found.node_name)
            sent_at = datetime.now(UTC)
            sent = status.model_copy(
                update={
                    "state": CommandState.SENT,
                    "sent_at": sent_at,
                    "node_name": found.node_name,
                }
            )
            # Recorded (committed when the block ends) before it goes out: the bridge takes
            # an answer only for a command it finds recorded for the answering device.
            await self._save_in(session, sent)
        message = {
            "command_id": status.command_id,
            "command": status.command,
            "parameters": status.parameters,
            "timeout": status.timeout_seconds,
            "sent_at": timestamp(sent_at),
        }
        # QoS 1 to the device's persistent session: the broker keeps it across a brief
        # disconnect.
        topic = device_topic(status.device_id, DeviceTopic.COMMAND)
        await self._publisher.publish(topic, message)
        self._events.emit(
            EventType.COMMAND_SENT,
            {
                "command_id": status.command_id,
                "device_id": status.device_id,
                "node_name": found.node_name,
                "command": status.command,
                "origin": status.origin,
            },
        )
        return DispatchOutcome(known=True, online=True, node_name=found.node_name, sent_at=sent_at)

    @activity.defn(name=CommandActivity.RECORD_COMMAND)
    async def record_command(self, inp: CommandStatus) -> None:
        webhooks = self._webhooks if inp.state.final else None
        # The row and its webhook deliveries in one transaction: one store round trip
        # instead of two, and the deliveries exist exactly when the outcome does.
        async with self._sessions() as session, session.begin():
            saved = await self._save_in(session, inp)
            # Not only when `saved`: a retry of this activity, after the row was written,
            # must still start the deliveries the first try may not have.
            due = (
                await webhooks.record(
                    session, WebhookEvent.COMMAND_RESULT, key=inp.command_id, data=result_event(inp)
                )
                if webhooks is not None
                else []
            )
        if saved and inp.state.final:
            self._events.emit(EventType.COMMAND_RESULT, result_event(inp))
        if webhooks is not None and due:
            await webhooks.start(due)

    @activity.defn(name=CommandActivity.RECORD_LATE_RESULT)
    async def record_late_result(self, inp: LateResultInput) -> None:
        async with self._sessions() as session, session.begin():
            recorded = await commands.record_late_result(
                session, command_id=inp.command_id, result=inp.result
            )
        if recorded:
            activity.logger.info("late result for command %s recorded", inp.command_id)
            self._events.emit(
                EventType.COMMAND_RESULT,
                {
                    "command_id": inp.command_id,
                    "device_id": inp.result.device_id,
                    "late": True,
                    "success": inp.result.success,
                    "result": inp.result.result,
                    "error": inp.result.error,
                },
            )

    @activity.defn(name=CommandActivity.PUBLISH_BROADCAST)
    async def publish_broadcast(self, inp: DispatchInput) -> BroadcastOutcome:
        status = inp.status
        assert status.device_type is not None
        async with self._sessions() as session:
            expected = await device_selection.online_of_type(
                session, device_type=status.device_type
            )
        sent_at = datetime.now(UTC)
        message = {
            "command_id": status.command_id,
            "command": status.command,
            "device_type": status.device_type,
            "parameters": status.parameters,
            "timeout": status.timeout_seconds,
            "sent_at": timestamp(sent_at),
        }
        # Recorded first, as dispatch_command does, so the bridge knows whose answers to take.
        await self._save(status.model_copy(update={"state": CommandState.SENT, "sent_at": sent_at}))
        await self._publisher.publish(BROADCAST_TOPIC, message)
        self._events.emit(
            EventType.COMMAND_SENT,
            {
                "command_id": status.command_id,
                "device_type": status.device_type,
                "command": status.command,
                "expected": expected,
            },
        )
        return BroadcastOutcome(sent_at=sent_at, expected=expected)

    @activity.defn(name=CommandActivity.COUNT_JOB_DEVICES)
    async def count_job_devices(self, inp: DeviceSelection) -> int:
        async with self._sessions() as session:
            return await device_selection.count_selected(
                session, device_type=inp.device_type, device_ids=inp.device_ids
            )

    @activity.defn(name=CommandActivity.SELECT_JOB_DEVICES)
    async def select_job_devices(self, inp: JobPageInput) -> list[str]:
        async with self._sessions() as session:
            return await device_selection.select_page(
                session,
                device_type=inp.selection.device_type,
                device_ids=inp.selection.device_ids,
                after=inp.after,
                limit=inp.limit,
            )

    async def _save(self, status: CommandStatus) -> bool:
        async with self._sessions() as session, session.begin():
            return await self._save_in(session, status)

    async def _save_in(self, session: AsyncSession, status: CommandStatus) -> bool:
        return await commands.save_command(
            session, status=status, workflow_id=activity.info().workflow_id or ""
        )


def result_event(status: CommandStatus) -> dict[str, Any]:
    """The seed's command_result fields, plus the state and how long the device took."""
    seconds = status.execution_seconds
    return {
        "command_id": status.command_id,
        "device_id": status.device_id,
        "device_type": status.device_type,
        "node_name": status.node_name,
        "command": status.command,
        "status": status.state.value,
        "success": status.success,
        "result": status.result,
        "error": status.error,
        "execution_time_ms": round(seconds * 1000, 1) if seconds is not None else None,
        "origin": status.origin,
    }
