"""Webhooks and their deliveries: the API writes webhooks, the worker's activities write
deliveries (one row per webhook and event, keyed by the delivery ID, so a retried
activity writes the same row) and a webhook's health (failing since, disabled)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import Webhook, WebhookDelivery, utcnow
from workflows.contracts.webhooks import DeliveryStatus

# The part of a receiver's answer kept for operators; the rest is never read.
MAX_RESPONSE_CHARS = 1024
MAX_ERROR_CHARS = 500


def new_webhook_id() -> str:
    return f"wh_{secrets.token_hex(12)}"


async def create_webhook(
    session: AsyncSession,
    *,
    url: str,
    events: Sequence[str],
    secret_sealed: str,
    description: str | None,
    created_by: str | None,
) -> Webhook:
    row = Webhook(
        id=new_webhook_id(),
        url=url,
        events=list(events),
        secret_sealed=secret_sealed,
        description=description,
        enabled=True,
        created_by=created_by,
    )
    session.add(row)
    await session.flush()
    return row


async def get_webhook(session: AsyncSession, webhook_id: str) -> Webhook | None:
    return await session.get(Webhook, webhook_id)


async def list_webhooks(
    session: AsyncSession, *, offset: int, limit: int
) -> tuple[Sequence[Webhook], int]:
    total = await session.scalar(select(func.count()).select_from(Webhook)) or 0
    rows = await session.scalars(
        select(Webhook).order_by(Webhook.created_at, Webhook.id).offset(offset).limit(limit)
    )
    return rows.all(), total


async def delete_webhook(session: AsyncSession, webhook_id: str) -> bool:
    """The webhook and its deliveries; runs still retrying find it gone and stop."""
    await session.execute(delete(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id))
    result = await session.execute(delete(Webhook).where(Webhook.id == webhook_id))
    return bool(getattr(result, "rowcount", 0))


async def subscribers(session: AsyncSession, *, event: str) -> list[Webhook]:
    """Enabled webhooks subscribed to `event` (filtered here: JSON queries differ by
    database, and a fleet has a handful of webhooks, not thousands)."""
    rows = await session.scalars(select(Webhook).where(Webhook.enabled.is_(True)))
    return [row for row in rows if event in row.events]


async def add_delivery(
    session: AsyncSession,
    *,
    delivery_id: str,
    webhook_id: str,
    event: str,
    event_id: str,
    occurred_at: datetime,
    data: dict[str, Any],
) -> bool:
    """Insert the delivery; False when it exists (an emission seen before)."""
    if await session.get(WebhookDelivery, delivery_id) is not None:
        return False
    session.add(
        WebhookDelivery(
            delivery_id=delivery_id,
            webhook_id=webhook_id,
            event=event,
            event_id=event_id,
            occurred_at=occurred_at,
            data=data,
            status=DeliveryStatus.PENDING.value,
            attempts=0,
        )
    )
    await session.flush()
    return True


async def get_delivery(session: AsyncSession, delivery_id: str) -> WebhookDelivery | None:
    return await session.get(WebhookDelivery, delivery_id)


async def list_deliveries(
    session: AsyncSession, *, webhook_id: str, offset: int, limit: int
) -> tuple[Sequence[WebhookDelivery], int]:
    where = WebhookDelivery.webhook_id == webhook_id
    total = await session.scalar(select(func.count()).select_from(WebhookDelivery).where(where))
    rows = await session.scalars(
        select(WebhookDelivery)
        .where(where)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.delivery_id)
        .offset(offset)
        .limit(limit)
    )
    return rows.all(), total or 0


async def record_attempt(
    session: AsyncSession,
    *,
    delivery_id: str,
    status: DeliveryStatus,
    status_code: int | None,
    error: str | None,
    response: str | None,
    retry_in_seconds: float | None,
) -> None:
    row = await session.get(WebhookDelivery, delivery_id)
    if row is None:  # its webhook was deleted meanwhile
        return
    now = utcnow()
    row.attempts += 1
    row.status = status.value
    row.last_status_code = status_code
    row.last_error = error[:MAX_ERROR_CHARS] if error else None
    row.last_response = response[:MAX_RESPONSE_CHARS] if response is not None else None
    row.last_attempt_at = now
    row.next_attempt_at = (
        now + timedelta(seconds=retry_in_seconds) if retry_in_seconds is not None else None
    )
    if status is DeliveryStatus.DELIVERED:
        row.delivered_at = now


async def finish_delivery(
    session: AsyncSession, *, delivery_id: str, status: DeliveryStatus, error: str | None
) -> None:
    row = await session.get(WebhookDelivery, delivery_id)
    if row is None:
        return
    row.status = status.value
    row.next_attempt_at = None
    if error and status is DeliveryStatus.DEAD and row.last_error is None:
        row.last_error = error[:MAX_ERROR_CHARS]


async def restart_delivery(session: AsyncSession, row: WebhookDelivery) -> None:
    """A dead delivery goes again; its attempts so far stay counted."""
    row.status = DeliveryStatus.PENDING.value
    row.next_attempt_at = None
    row.last_error = None


async def undo_restart(session: AsyncSession, *, delivery_id: str, last_error: str | None) -> None:
    """Dead again, as before `restart_delivery`, when no run could start."""
    row = await session.get(WebhookDelivery, delivery_id)
    if row is not None and row.status == DeliveryStatus.PENDING.value:
        row.status = DeliveryStatus.DEAD.value
        row.last_error = last_error


async def note_success(session: AsyncSession, *, webhook_id: str) -> None:
    row = await session.get(Webhook, webhook_id)
    if row is not None and row.failing_since is not None:
        row.failing_since = None


async def note_failure(session: AsyncSession, *, webhook_id: str) -> datetime | None:
    """Since when the webhook has been failing (now, if this is its first failure)."""
    row = await session.get(Webhook, webhook_id)
    if row is None:
        return None
    if row.failing_since is None:
        row.failing_since = utcnow()
    return row.failing_since


async def disable_webhook(session: AsyncSession, *, webhook_id: str, reason: str) -> bool:
    """False when it was disabled (or deleted) already."""
    row = await session.get(Webhook, webhook_id)
    if row is None or not row.enabled:
        return False
    row.enabled = False
    row.disabled_reason = reason[:300]
    return True
