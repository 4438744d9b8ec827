"""Starting WebhookDelivery runs by name, for the worker's emitter and the API alike."""

from __future__ import annotations

import asyncio

from temporalio.client import Client, WorkflowFailureError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from store.models import WebhookDelivery
from store.settings import Settings
from workflows.contracts.webhooks import (
    WEBHOOK_DELIVERY_WORKFLOW,
    DeliveryInput,
    DeliveryRetry,
    WebhookEvent,
    delivery_workflow_id,
)


def delivery_retry(settings: Settings) -> DeliveryRetry:
    return DeliveryRetry(
        initial_seconds=settings.webhook_retry_initial_seconds,
        maximum_seconds=settings.webhook_retry_max_interval_seconds,
        give_up_after_seconds=settings.webhook_retry_window_seconds,
    )


def delivery_input(settings: Settings, row: WebhookDelivery) -> DeliveryInput:
    """What a WebhookDelivery run is started with, from its delivery row."""
    return DeliveryInput(
        delivery_id=row.delivery_id,
        webhook_id=row.webhook_id,
        event=WebhookEvent(row.event),
        event_id=row.event_id,
        occurred_at=row.occurred_at,
        data=row.data,
        retry=delivery_retry(settings),
    )


async def start_delivery(
    client: Client, inp: DeliveryInput, *, task_queue: str, again: bool = False
) -> bool:
    """Start the delivery's run; False when one runs (or, unless `again`, ever ran).

    An emission retried after its run ended must not deliver twice, so only a
    redelivery (`again`) may reuse the ID of a run that has ended.
    """
    reuse = (
        WorkflowIDReusePolicy.ALLOW_DUPLICATE if again else WorkflowIDReusePolicy.REJECT_DUPLICATE
    )
    try:
        await client.start_workflow(
            WEBHOOK_DELIVERY_WORKFLOW,
            inp,
            id=delivery_workflow_id(inp.delivery_id),
            task_queue=task_queue,
            id_reuse_policy=reuse,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
    except WorkflowAlreadyStartedError:
        return False
    return True


async def start_redelivery(
    client: Client, inp: DeliveryInput, *, task_queue: str, settle_seconds: float = 10.0
) -> bool:
    """Start a dead delivery's run again; False when a run is still going.

    A run records its delivery dead in its last activity and closes just after, so a
    redelivery can come while it closes: wait up to `settle_seconds` for it, then start.
    """
    if await start_delivery(client, inp, task_queue=task_queue, again=True):
        return True
    closing = client.get_workflow_handle(delivery_workflow_id(inp.delivery_id))
    try:
        await asyncio.wait_for(closing.result(follow_runs=False), settle_seconds)
    except WorkflowFailureError:
        pass  # closed all the same
    except TimeoutError:
        return False
    return await start_delivery(client, inp, task_queue=task_queue, again=True)
