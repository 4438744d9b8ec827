"""The delivery's activities: one attempt (sign, send, classify, record) and the end.

An attempt's answer decides what Temporal does next: 2xx returns; 408, 429, 5xx and no
answer at all raise a retryable error (the workflow's retry policy waits and tries
again); 410 disables the webhook; any other answer, a refused target, a disabled or
deleted webhook raise a final error. A webhook whose attempts have all failed for
`webhook_disable_after_seconds` is disabled and `webhook_disabled` is emitted.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.webhooks.emitter import WebhookEmitter
from adapters.webhooks.sender import Answer, post
from adapters.webhooks.signing import delivery_body, delivery_headers, iso
from adapters.webhooks.targets import TargetRefused
from store import webhooks
from store.models import utcnow
from store.sealing import SealError, unseal
from store.settings import Settings
from workflows.contracts.webhooks import (
    AttemptOutcome,
    DeliveryInput,
    DeliveryStatus,
    FinishDeliveryInput,
    WebhookActivity,
    WebhookErrorType,
    WebhookEvent,
)

logger = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 429})


def retryable(answer: Answer) -> bool:
    return answer.status is None or answer.status in RETRYABLE_STATUS or answer.status >= 500


def describe(answer: Answer) -> str:
    if answer.status is None:
        return answer.error or "no answer"
    return f"the receiver answered {answer.status}"


class DeliveryActivities:
    def __init__(
        self,
        *,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        emitter: WebhookEmitter,
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._emitter = emitter

    @activity.defn(name=WebhookActivity.DELIVER)
    async def deliver_webhook(self, inp: DeliveryInput) -> AttemptOutcome:
        async with self._sessions() as session:
            hook = await webhooks.get_webhook(session, inp.webhook_id)
        if hook is None:
            raise _final(WebhookErrorType.NOT_FOUND, f"webhook {inp.webhook_id} was deleted")
        if not hook.enabled:
            raise _final(WebhookErrorType.DISABLED, f"webhook {hook.id} is disabled")
        try:
            secret = unseal(self._settings, hook.secret_sealed)
        except SealError as err:
            raise _final(WebhookErrorType.DISABLED, str(err)) from None
        body = delivery_body(
            secret,
            msg_id=inp.delivery_id,
            event=inp.event.value,
            occurred_at=inp.occurred_at,
            data=inp.data,
        )
        headers = delivery_headers(secret, msg_id=inp.delivery_id, body=body, at=utcnow())
        try:
            answer = await post(
                hook.url,
                body=body,
                headers=headers,
                timeout_seconds=self._settings.webhook_timeout_seconds,
                allow_private=self._settings.webhook_allow_private,
            )
        except TargetRefused as err:
            refused = Answer(None, None, f"target refused: {err}")
            await self._record(inp, refused, DeliveryStatus.DEAD)
            raise _final(WebhookErrorType.TARGET_REFUSED, str(err)) from None
        return await self._classify(inp, answer)

    async def _classify(self, inp: DeliveryInput, answer: Answer) -> AttemptOutcome:
        if answer.status is not None and 200 <= answer.status < 300:
            await self._record(inp, answer, DeliveryStatus.DELIVERED)
            return AttemptOutcome(status_code=answer.status)
        if answer.status == 410:
            await self._record(inp, answer, DeliveryStatus.DEAD)
            await self._disable(inp.webhook_id, "the receiver answered 410 Gone")
            raise _final(WebhookErrorType.GONE, "the receiver answered 410 Gone; webhook disabled")
        if not retryable(answer):
            await self._record(inp, answer, DeliveryStatus.DEAD)
            raise _final(WebhookErrorType.REJECTED, describe(answer))
        wait = self._wait(answer)
        since = await self._record(inp, answer, DeliveryStatus.RETRYING, wait=wait)
        if since is not None and utcnow() - since >= timedelta(
            seconds=self._settings.webhook_disable_after_seconds
        ):
            reason = f"every delivery failed since {iso(since)}"
            await self._disable(inp.webhook_id, reason)
            raise _final(WebhookErrorType.DISABLED, f"webhook disabled: {reason}")
        raise ApplicationError(
            describe(answer),
            type=WebhookErrorType.RETRYABLE,
            next_retry_delay=timedelta(seconds=wait) if answer.retry_after is not None else None,
        )

    async def _record(
        self,
        inp: DeliveryInput,
        answer: Answer,
        status: DeliveryStatus,
        *,
        wait: float | None = None,
    ) -> datetime | None:
        """Store the attempt and the webhook's health; since when it has been failing."""
        delivered = status is DeliveryStatus.DELIVERED
        async with self._sessions() as session, session.begin():
            await webhooks.record_attempt(
                session,
                delivery_id=inp.delivery_id,
                status=status,
                status_code=answer.status,
                error=None if delivered else describe(answer),
                response=answer.body,
                retry_in_seconds=wait,
            )
            if delivered:
                await webhooks.note_success(session, webhook_id=inp.webhook_id)
                return None
            return await webhooks.note_failure(session, webhook_id=inp.webhook_id)

    def _wait(self, answer: Answer) -> float:
        """Seconds until the next try: the receiver's Retry-After (429, 503) when it gave
        one, bounded by the longest interval; else the retry policy's own arithmetic
        (workflows/webhooks/delivery.py), for the deliveries list."""
        longest = self._settings.webhook_retry_max_interval_seconds
        if answer.retry_after is not None:
            return min(answer.retry_after, longest)
        attempt: int = activity.info().attempt
        backoff: float = self._settings.webhook_retry_initial_seconds * 2.0 ** (attempt - 1)
        return min(backoff, longest)

    async def _disable(self, webhook_id: str, reason: str) -> None:
        async with self._sessions() as session, session.begin():
            disabled = await webhooks.disable_webhook(session, webhook_id=webhook_id, reason=reason)
        if not disabled:
            return
        logger.warning("webhook %s disabled: %s", webhook_id, reason)
        await self._emitter.emit(
            WebhookEvent.WEBHOOK_DISABLED,
            key=f"{webhook_id}@{iso(utcnow())}",
            data={"webhook_id": webhook_id, "reason": reason},
        )

    @activity.defn(name=WebhookActivity.FINISH)
    async def finish_webhook_delivery(self, inp: FinishDeliveryInput) -> None:
        async with self._sessions() as session, session.begin():
            await webhooks.finish_delivery(
                session, delivery_id=inp.delivery_id, status=inp.status, error=inp.error
            )


def _final(kind: WebhookErrorType, message: str) -> ApplicationError:
    return ApplicationError(message, type=kind.value, non_retryable=True)
