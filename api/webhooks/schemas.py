"""Webhook requests and answers. No answer ever carries the secret."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from api.core.pagination import Pagination
from store.models import Webhook, WebhookDelivery
from workflows.contracts.common import PrintableText, has_control_characters
from workflows.contracts.webhooks import WebhookEvent

MAX_EVENTS = len(WebhookEvent)
Url = Annotated[
    str,
    Field(
        min_length=1,
        max_length=2048,
        description="http:// or https:// URL the events are POSTed to",
        examples=["https://your-server.com/webhook"],
    ),
]
Events = Annotated[
    list[WebhookEvent],
    Field(
        min_length=1,
        max_length=MAX_EVENTS,
        description="Events to deliver (alert, maintenance_started and maintenance_stopped "
        "are accepted but nothing emits them yet)",
        examples=[["device_joined", "device_left", "alert"]],
    ),
]
Secret = Annotated[
    SecretStr,
    Field(
        min_length=16,
        max_length=256,
        description="HMAC-SHA256 key of both signatures; never shown again",
        examples=["your-webhook-secret"],
    ),
]


def _secret_printable(value: SecretStr | None) -> SecretStr | None:
    if value is not None and has_control_characters(value.get_secret_value()):
        raise ValueError("must not contain control or invisible formatting characters")
    return value


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url
    events: Events
    secret: Secret
    description: PrintableText | None = Field(default=None, max_length=200)

    _secret = field_validator("secret")(_secret_printable)


class WebhookUpdate(BaseModel):
    """What changes; a new `secret` rotates it, `enabled: true` re-enables."""

    model_config = ConfigDict(extra="forbid")

    url: Url | None = None
    events: Events | None = None
    secret: Secret | None = None
    description: PrintableText | None = Field(default=None, max_length=200)
    enabled: bool | None = None

    _secret = field_validator("secret")(_secret_printable)

    @model_validator(mode="after")
    def _something(self) -> WebhookUpdate:
        if not self.model_fields_set:
            raise ValueError("name at least one of url, events, secret, description, enabled")
        return self


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[str]
    description: str | None
    enabled: bool
    disabled_reason: str | None
    failing_since: datetime | None
    created_by: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Webhook) -> WebhookOut:
        return cls(
            id=row.id,
            url=row.url,
            events=list(row.events),
            description=row.description,
            enabled=row.enabled,
            disabled_reason=row.disabled_reason,
            failing_since=row.failing_since,
            created_by=row.created_by,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class WebhookCreated(BaseModel):
    status: Literal["success"] = "success"
    message: str
    id: str
    webhook: WebhookOut


class WebhookAnswer(BaseModel):
    status: Literal["success"] = "success"
    message: str
    webhook: WebhookOut


class WebhookList(BaseModel):
    count: int = Field(description="Webhooks in this page")
    webhooks: list[WebhookOut]
    pagination: Pagination


class Deleted(BaseModel):
    status: Literal["success"] = "success"
    message: str


class DeliveryOut(BaseModel):
    delivery_id: str = Field(description="Also the `id` in the body and `webhook-id` header")
    webhook_id: str
    event: str
    event_id: str
    status: str = Field(description="pending, retrying, delivered or dead")
    attempts: int
    last_status_code: int | None
    last_error: str | None
    last_response: str | None = Field(description="At most 1 KiB of the last answer's body")
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    occurred_at: datetime
    created_at: datetime
    workflow_id: str
    temporal_ui_url: str

    @classmethod
    def of(cls, row: WebhookDelivery, *, workflow_id: str, link: str) -> DeliveryOut:
        return cls(
            delivery_id=row.delivery_id,
            webhook_id=row.webhook_id,
            event=row.event,
            event_id=row.event_id,
            status=row.status,
            attempts=row.attempts,
            last_status_code=row.last_status_code,
            last_error=row.last_error,
            last_response=row.last_response,
            last_attempt_at=row.last_attempt_at,
            next_attempt_at=row.next_attempt_at,
            delivered_at=row.delivered_at,
            occurred_at=row.occurred_at,
            created_at=row.created_at,
            workflow_id=workflow_id,
            temporal_ui_url=link,
        )


class DeliveryList(BaseModel):
    count: int
    deliveries: list[DeliveryOut]
    pagination: Pagination


class DeliveryStarted(BaseModel):
    status: Literal["accepted"] = "accepted"
    message: str
    delivery: DeliveryOut
