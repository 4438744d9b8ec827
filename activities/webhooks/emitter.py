"""Emit an event to every webhook subscribed to it: one delivery row and one
WebhookDelivery run per webhook.

Producers call `emit` from an activity that already ends their workflow (recording a
backup, finishing a batch, ...), so no workflow changes and stored histories replay.
It is durable because it is part of that activity: if a start fails, the activity fails
and Temporal retries it, and a retry finds the deliveries it made (IDs derive from the
webhook and the event's key) instead of making new ones.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client

from adapters.webhooks.runs import delivery_input, start_delivery
from adapters.webhooks.signing import iso
from store import webhooks
from store.models import WebhookDelivery, utcnow
from store.settings import Settings
from workflows.contracts.webhooks import DeliveryInput, DeliveryStatus, WebhookEvent, delivery_id

logger = logging.getLogger(__name__)


class WebhookEmitter:
    def __init__(
        self,
        *,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        client: Client | None = None,
    ) -> None:
        """`client`: None inside a worker (the running activity's client is used)."""
        self._settings = settings
        self._sessions = sessions
        self._client = client

    async def emit(
        self,
        event: WebhookEvent,
        *,
        key: str,
        data: Mapping[str, Any],
        at: datetime | None = None,
    ) -> int:
        """Start deliveries of the event named `key`; how many were started now."""
        async with self._sessions() as session, session.begin():
            due = await self.record(session, event, key=key, data=data, at=at)
        return await self.start(due)

    async def record(
        self,
        session: AsyncSession,
        event: WebhookEvent,
        *,
        key: str,
        data: Mapping[str, Any],
        at: datetime | None = None,
    ) -> list[DeliveryInput]:
        """Write the deliveries in the caller's transaction; `start` them once it commits.

        For a producer that writes its own row anyway: one transaction instead of two.
        """
        event_id = f"{event.value}:{key}"
        occurred = at or utcnow()
        payload = {"timestamp": iso(occurred), **data}
        due = []
        for hook in await webhooks.subscribers(session, event=event.value):
            did = delivery_id(webhook_id=hook.id, event_id=event_id)
            row = await webhooks.get_delivery(session, did)
            if row is None:
                await webhooks.add_delivery(
                    session,
                    delivery_id=did,
                    webhook_id=hook.id,
                    event=event.value,
                    event_id=event_id,
                    occurred_at=occurred,
                    data=payload,
                )
                row = await webhooks.get_delivery(session, did)
            if row is not None and _maybe_unstarted(row):
                due.append(delivery_input(self._settings, row))
        return due

    async def start(self, due: Sequence[DeliveryInput]) -> int:
        """Start the runs of recorded deliveries; how many were started now."""
        started = 0
        for inp in due:
            started += await start_delivery(
                self._temporal(), inp, task_queue=self._settings.task_queue
            )
        if started:
            logger.info("%s: %d webhook deliveries started", due[0].event_id, started)
        return started

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return self._sessions

    def _temporal(self) -> Client:
        return self._client if self._client is not None else activity.client()


def run_key(name: str) -> str:
    """An event key for something that can happen again to the same name (a device
    joins, leaves, joins again): the name and the run it happened in."""
    return f"{name}@{activity.info().workflow_run_id}"


def _maybe_unstarted(row: WebhookDelivery) -> bool:
    # A row no attempt has touched may be one whose start was lost with an earlier try
    # of this activity; starting it again is harmless (the ID refuses a second run).
    return row.status == DeliveryStatus.PENDING.value and row.attempts == 0
