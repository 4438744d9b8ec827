"""Inventory activities: the device rows the two REST contracts read."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.webhooks.emitter import WebhookEmitter, run_key
from adapters.mqtt.events import EventSink
from store.devices import inventory as devices
from store.devices import tokens
from store.models import utcnow
from workflows.contracts.common import DeviceRef, ErrorType
from workflows.contracts.devices import DEVICE_REMOVAL_WORKFLOW
from workflows.contracts.join import (
    CompleteJoinInput,
    DeviceRecordInput,
    DeviceStatusInput,
    JoinActivity,
    JoinStatus,
)
from workflows.contracts.live import EventType
from workflows.contracts.webhooks import WebhookEvent


class InventoryActivities:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        events: EventSink | None = None,
        webhooks: WebhookEmitter | None = None,
    ) -> None:
        self._sessions = sessions
        self._events = events  # the event bus, for node_joined (SSE, WebSocket)
        self._webhooks = webhooks  # device_joined, device_left

    @activity.defn(name=JoinActivity.VALIDATE_JOIN)
    async def validate_join(self, inp: DeviceRef) -> None:
        """Refuse a join that would take a node or device another join holds."""
        async with self._sessions() as session:
            rows = await devices.holders(session, device_id=inp.device_id, node_name=inp.node_name)
        for device_id, node_name in rows:
            if node_name == inp.node_name and device_id != inp.device_id:
                raise ApplicationError(
                    f"node {inp.node_name} already belongs to device {device_id}",
                    type=ErrorType.CONFLICT,
                    non_retryable=True,
                )
        for device_id, node_name in rows:
            if device_id == inp.device_id and node_name != inp.node_name:
                raise ApplicationError(
                    f"device {inp.device_id} is already registered as node {node_name}",
                    type=ErrorType.CONFLICT,
                    non_retryable=True,
                )

    @activity.defn(name=JoinActivity.RECORD_DEVICE)
    async def record_device(self, inp: DeviceRecordInput) -> None:
        async with self._sessions() as session, session.begin():
            await devices.upsert_device(
                session,
                device_id=inp.device_id,
                node_name=inp.node_name,
                status=inp.status,
                device_type=inp.device_type,
                location=inp.location,
                configuration=dict(inp.configuration),
                workflow_id=inp.workflow_id,
            )

    @activity.defn(name=JoinActivity.DELETE_DEVICE_RECORD)
    async def delete_device_record(self, inp: DeviceRef) -> None:
        async with self._sessions() as session, session.begin():
            await devices.delete_device(session, device_id=inp.device_id)
        # A join's compensation runs this too; only a removal's last step means "left".
        if self._webhooks is not None and activity.info().workflow_type == DEVICE_REMOVAL_WORKFLOW:
            await self._webhooks.emit(
                WebhookEvent.DEVICE_LEFT,
                key=run_key(inp.device_id),
                data={"device_id": inp.device_id, "node_name": inp.node_name},
            )

    @activity.defn(name=JoinActivity.SET_DEVICE_STATUS)
    async def set_device_status(self, inp: DeviceStatusInput) -> None:
        async with self._sessions() as session, session.begin():
            await devices.set_status(session, device_id=inp.device_id, status=inp.status)

    @activity.defn(name=JoinActivity.COMPLETE_JOIN)
    async def complete_join(self, inp: CompleteJoinInput) -> None:
        """The node is Ready: its token is now used up and the device is joined."""
        async with self._sessions() as session, session.begin():
            await tokens.mark_used(session, token_id=inp.token_id)
            await devices.set_status(
                session,
                device_id=inp.device_id,
                status=JoinStatus.JOINED.value,
                joined_at=utcnow(),
            )
            # Seen Ready just now; the node sync fills in roles, version and pods later.
            await devices.mark_node_ready(session, device_id=inp.device_id, at=utcnow())
        activity.logger.info("device %s joined as node %s", inp.device_id, inp.node_name)
        if self._events is not None:
            joined = {"device_id": inp.device_id, "node_name": inp.node_name, "status": "Ready"}
            self._events.emit(EventType.NODE_JOINED, joined)
        if self._webhooks is not None:
            device = {"device_id": inp.device_id, "node_name": inp.node_name}
            # Also emitted by provision_device; the same key makes it one delivery, and
            # this one makes sure it is made if that best-effort try failed.
            await self._webhooks.emit(
                WebhookEvent.DEVICE_PROVISIONED, key=run_key(inp.device_id), data=device
            )
            await self._webhooks.emit(
                WebhookEvent.DEVICE_JOINED,
                key=run_key(inp.device_id),
                data={"device_id": inp.device_id, "node_name": inp.node_name},
            )
