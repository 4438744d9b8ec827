"""WebhookDelivery: POST one event to one webhook until it is taken or no try is left.

The retries are the activity's Temporal retry policy (exponential backoff for up to the
configured day), so a worker restart loses no backoff. The activity records each
attempt in the store as it ends; this run records how the delivery ended: delivered, or
dead (no try left, a final answer, the webhook disabled or deleted) and redeliverable.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, TimeoutError

from workflows.contracts.webhooks import (
    FINAL_ERRORS,
    WEBHOOK_DELIVERY_WORKFLOW,
    AttemptOutcome,
    DeliveryInput,
    DeliveryResult,
    DeliveryStatus,
    FinishDeliveryInput,
    deliver_webhook,
    finish_webhook_delivery,
)

# One attempt is bounded by the sender's own timeout (10 s); this is for a lost worker.
ATTEMPT_TIMEOUT = timedelta(seconds=60)


@workflow.defn(name=WEBHOOK_DELIVERY_WORKFLOW)
class WebhookDeliveryWorkflow:
    @workflow.run
    async def run(self, inp: DeliveryInput) -> DeliveryResult:
        retry = RetryPolicy(
            initial_interval=timedelta(seconds=inp.retry.initial_seconds),
            backoff_coefficient=2.0,
            maximum_interval=timedelta(seconds=inp.retry.maximum_seconds),
            non_retryable_error_types=list(FINAL_ERRORS),
        )
        try:
            outcome: AttemptOutcome = await workflow.execute_activity(
                deliver_webhook,
                inp,
                start_to_close_timeout=ATTEMPT_TIMEOUT,
                schedule_to_close_timeout=timedelta(seconds=inp.retry.give_up_after_seconds),
                retry_policy=retry,
            )
        except ActivityError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError):
                error = cause.message
            elif isinstance(cause, TimeoutError):
                error = "no try left: the retry window ended; redeliver to try again"
            else:
                error = str(cause or err)
            result = DeliveryResult(
                delivery_id=inp.delivery_id, status=DeliveryStatus.DEAD, error=error
            )
        else:
            result = DeliveryResult(
                delivery_id=inp.delivery_id,
                status=DeliveryStatus.DELIVERED,
                status_code=outcome.status_code,
            )
        await workflow.execute_activity(
            finish_webhook_delivery,
            FinishDeliveryInput(
                delivery_id=inp.delivery_id, status=result.status, error=result.error
            ),
            start_to_close_timeout=timedelta(seconds=30),
        )
        return result
