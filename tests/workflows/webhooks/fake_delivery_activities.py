"""Stand-ins for the delivery activities, registered under the real names."""

from __future__ import annotations

from dataclasses import dataclass, field

from temporalio import activity
from temporalio.exceptions import ApplicationError

from workflows.contracts.webhooks import (
    AttemptOutcome,
    DeliveryInput,
    FinishDeliveryInput,
    WebhookActivity,
    WebhookErrorType,
)


@dataclass
class FakeDelivery:
    """Answers each attempt from `answers` (an int: that HTTP status; None: no answer)."""

    answers: list[int | None]
    attempts: int = 0
    finished: list[FinishDeliveryInput] = field(default_factory=list)

    @activity.defn(name=WebhookActivity.DELIVER)
    async def deliver_webhook(self, inp: DeliveryInput) -> AttemptOutcome:
        self.attempts += 1
        status = self.answers.pop(0) if self.answers else 200
        if status is not None and 200 <= status < 300:
            return AttemptOutcome(status_code=status)
        if status is None or status >= 500 or status in (408, 429):
            raise ApplicationError(f"answered {status}", type=WebhookErrorType.RETRYABLE)
        # Retryable as raised: the workflow's policy must be what makes it final.
        raise ApplicationError(
            f"answered {status}", type=WebhookErrorType.REJECTED, non_retryable=False
        )

    @activity.defn(name=WebhookActivity.FINISH)
    async def finish_webhook_delivery(self, inp: FinishDeliveryInput) -> None:
        self.finished.append(inp)

    def all(self) -> list[object]:
        return [self.deliver_webhook, self.finish_webhook_delivery]
