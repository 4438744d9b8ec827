"""Webhooks: the events a webhook can subscribe to, the delivery workflow's ID, input and
result, its activities' stubs and the failure types the sender raises.

One delivery is one (webhook, event) pair and one `WebhookDelivery` run, whose ID is the
delivery's: an event emitted twice (an activity retried) finds the run it started.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field
from temporalio import activity

from workflows.contracts.common import ContractModel

WEBHOOK_DELIVERY_WORKFLOW = "WebhookDelivery"


class WebhookEvent(StrEnum):
    DEVICE_JOINED = "device_joined"
    DEVICE_LEFT = "device_left"
    DEVICE_PROVISIONED = "device_provisioned"
    ALERT = "alert"
    COMMAND_RESULT = "command_result"
    BATCH_COMPLETED = "batch_completed"
    ROLLOUT_COMPLETED = "rollout_completed"
    ROLLOUT_ROLLED_BACK = "rollout_rolled_back"
    BACKUP_COMPLETED = "backup_completed"
    BACKUP_FAILED = "backup_failed"
    RESTORE_COMPLETED = "restore_completed"
    MAINTENANCE_STARTED = "maintenance_started"
    MAINTENANCE_STOPPED = "maintenance_stopped"
    PING = "ping"
    WEBHOOK_DISABLED = "webhook_disabled"


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # started, no attempt answered yet
    RETRYING = "retrying"  # an attempt failed and another is due at next_attempt_at
    DELIVERED = "delivered"
    DEAD = "dead"  # no try left (or a final answer); POST .../redeliver starts it again


class WebhookErrorType(StrEnum):
    """`ApplicationError.type` of a failed attempt; all but RETRYABLE are final."""

    RETRYABLE = "WebhookRetryable"  # 408, 429, 5xx, timeout, connection error
    REJECTED = "WebhookRejected"  # any other answer that is not 2xx
    GONE = "WebhookGone"  # 410: the receiver says the webhook is gone; it is disabled
    DISABLED = "WebhookDisabled"  # disabled before or by this attempt
    TARGET_REFUSED = "WebhookTargetRefused"  # resolves to a private address, or no longer
    NOT_FOUND = "WebhookNotFound"  # deleted


FINAL_ERRORS = tuple(t.value for t in WebhookErrorType if t is not WebhookErrorType.RETRYABLE)


class WebhookActivity(StrEnum):
    DELIVER = "deliver_webhook"
    FINISH = "finish_webhook_delivery"


def delivery_id(*, webhook_id: str, event_id: str) -> str:
    """The same event for the same webhook is the same delivery, however often emitted."""
    digest = hashlib.sha256(f"{webhook_id}\n{event_id}".encode()).hexdigest()
    return f"dlv_{digest[:32]}"


def delivery_workflow_id(delivery: str) -> str:
    return f"webhook-delivery/{delivery}"


class DeliveryRetry(ContractModel):
    """Exponential backoff from `initial_seconds`, doubling up to `maximum_seconds`,
    for at most `give_up_after_seconds` in all (settings, so tests keep it short)."""

    initial_seconds: float = Field(gt=0)
    maximum_seconds: float = Field(gt=0)
    give_up_after_seconds: float = Field(gt=0)


class DeliveryInput(ContractModel):
    delivery_id: str
    webhook_id: str
    event: WebhookEvent
    event_id: str
    occurred_at: datetime
    data: dict[str, Any]
    retry: DeliveryRetry


class AttemptOutcome(ContractModel):
    status_code: int


class FinishDeliveryInput(ContractModel):
    delivery_id: str
    status: DeliveryStatus
    error: str | None = None


class DeliveryResult(ContractModel):
    delivery_id: str
    status: DeliveryStatus
    status_code: int | None = None
    error: str | None = None


# Stubs: the workflow calls these; workers register the implementations under the names.


@activity.defn(name=WebhookActivity.DELIVER)
async def deliver_webhook(inp: DeliveryInput) -> AttemptOutcome:
    raise NotImplementedError


@activity.defn(name=WebhookActivity.FINISH)
async def finish_webhook_delivery(inp: FinishDeliveryInput) -> None:
    raise NotImplementedError
