"""What the webhook routes do besides reading rows: check targets, seal secrets, start
deliveries (a ping, a redelivery) by workflow name.

A delivery's row is committed before its run starts, in a transaction of its own: the
run's first attempt records itself in that row and may come before the request's own
transaction would commit.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from adapters.webhooks.runs import delivery_input, start_delivery, start_redelivery
from adapters.webhooks.signing import iso
from adapters.webhooks.targets import TargetRefused, checked_addresses
from api.core.errors import ApiError
from api.core.links import temporal_ui_link
from api.webhooks.schemas import DeliveryOut
from store import webhooks
from store.models import Webhook, WebhookDelivery, utcnow
from store.sealing import seal
from store.settings import Settings
from workflows.contracts.webhooks import (
    DeliveryStatus,
    WebhookEvent,
    delivery_id,
    delivery_workflow_id,
)


async def check_target(settings: Settings, url: str) -> None:
    """400 unless `url` is one a webhook may call now."""
    try:
        await checked_addresses(url, allow_private=settings.webhook_allow_private)
    except TargetRefused as err:
        raise ApiError(400, f"url {err}", details={"url": str(err)}) from None


def sealed(settings: Settings, secret: str) -> str:
    return seal(settings, secret)


async def existing(session: AsyncSession, webhook_id: str) -> Webhook:
    row = await webhooks.get_webhook(session, webhook_id)
    if row is None:
        raise ApiError(404, f"No webhook {webhook_id}")
    return row


def enabled(row: Webhook) -> None:
    if not row.enabled:
        raise ApiError(
            409,
            f"Webhook {row.id} is disabled ({row.disabled_reason}); "
            "PUT it with enabled: true first",
        )


def delivery_view(settings: Settings, row: WebhookDelivery) -> DeliveryOut:
    workflow_id = delivery_workflow_id(row.delivery_id)
    return DeliveryOut.of(
        row, workflow_id=workflow_id, link=temporal_ui_link(settings, workflow_id)
    )


async def ping(
    sessions: async_sessionmaker[AsyncSession], client: Client, settings: Settings, hook: Webhook
) -> WebhookDelivery:
    event_id = f"ping:{uuid.uuid4()}"
    did = delivery_id(webhook_id=hook.id, event_id=event_id)
    now = utcnow()
    async with sessions() as session, session.begin():
        await webhooks.add_delivery(
            session,
            delivery_id=did,
            webhook_id=hook.id,
            event=WebhookEvent.PING.value,
            event_id=event_id,
            occurred_at=now,
            data={"webhook_id": hook.id, "timestamp": iso(now), "message": "ping"},
        )
        row = await webhooks.get_delivery(session, did)
    assert row is not None
    await start_delivery(client, delivery_input(settings, row), task_queue=settings.task_queue)
    return row


async def redeliver(
    sessions: async_sessionmaker[AsyncSession],
    client: Client,
    settings: Settings,
    *,
    webhook_id: str,
    delivery: str,
) -> WebhookDelivery:
    async with sessions() as session, session.begin():
        hook = await existing(session, webhook_id)
        enabled(hook)
        row = await webhooks.get_delivery(session, delivery)
        if row is None or row.webhook_id != webhook_id:
            raise ApiError(404, f"No delivery {delivery} of webhook {webhook_id}")
        if row.status != DeliveryStatus.DEAD.value:
            raise ApiError(
                409,
                f"Delivery {delivery} is {row.status}; only a dead delivery is redelivered",
                details={"status": row.status},
            )
        last_error = row.last_error
        await webhooks.restart_delivery(session, row)
    if not await start_redelivery(
        client, delivery_input(settings, row), task_queue=settings.task_queue
    ):
        # A run is still going after all: the row goes back to dead, as that run left it.
        async with sessions() as session, session.begin():
            await webhooks.undo_restart(session, delivery_id=delivery, last_error=last_error)
        raise ApiError(409, f"Delivery {delivery} is already being delivered")
    return row
