"""Webhooks: the delivery workflow and its activities, for workers.worker to register."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from activities.webhooks.delivery import DeliveryActivities
from activities.webhooks.emitter import WebhookEmitter
from workflows.webhooks.delivery import WebhookDeliveryWorkflow

WEBHOOK_WORKFLOWS: Sequence[type] = (WebhookDeliveryWorkflow,)


def webhook_activities(*, emitter: WebhookEmitter) -> list[Any]:
    deliveries = DeliveryActivities(
        settings=emitter.settings, sessions=emitter.sessions, emitter=emitter
    )
    return [deliveries.deliver_webhook, deliveries.finish_webhook_delivery]
