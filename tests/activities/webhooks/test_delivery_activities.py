"""deliver_webhook against a real receiver and a real store (SQLite and PostgreSQL):
what an attempt records, a target refused at delivery time, disabling."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.webhooks.delivery import DeliveryActivities
from activities.webhooks.emitter import WebhookEmitter
from store import webhooks
from store.sealing import seal
from store.settings import Settings
from tests.support.webhook_receiver import Receiver, webhook_receiver
from workflows.contracts.webhooks import (
    DeliveryInput,
    DeliveryRetry,
    DeliveryStatus,
    WebhookErrorType,
    WebhookEvent,
    delivery_id,
)

SECRET = "activity-test-secret"


def settings(*, allow_private: bool) -> Settings:
    return Settings(secret_key=secrets.token_urlsafe(48), webhook_allow_private=allow_private)


async def subscribe(
    sessions: async_sessionmaker[AsyncSession], config: Settings, receiver: Receiver
) -> DeliveryInput:
    """A webhook saved straight to the store (as if its name resolved elsewhere when it
    was checked) and one delivery for it."""
    now = datetime.now(UTC)
    async with sessions() as session, session.begin():
        hook = await webhooks.create_webhook(
            session,
            url=receiver.url,
            events=["ping"],
            secret_sealed=seal(config, SECRET),
            description=None,
            created_by="test",
        )
        did = delivery_id(webhook_id=hook.id, event_id="ping:1")
        await webhooks.add_delivery(
            session,
            delivery_id=did,
            webhook_id=hook.id,
            event="ping",
            event_id="ping:1",
            occurred_at=now,
            data={"message": "ping"},
        )
    return DeliveryInput(
        delivery_id=did,
        webhook_id=hook.id,
        event=WebhookEvent.PING,
        event_id="ping:1",
        occurred_at=now,
        data={"message": "ping"},
        retry=DeliveryRetry(initial_seconds=1, maximum_seconds=2, give_up_after_seconds=60),
    )


def activities(sessions: async_sessionmaker[AsyncSession], config: Settings) -> DeliveryActivities:
    emitter = WebhookEmitter(settings=config, sessions=sessions)
    return DeliveryActivities(settings=config, sessions=sessions, emitter=emitter)


async def test_loopback_refused_at_delivery(sessions: async_sessionmaker[AsyncSession]) -> None:
    config = settings(allow_private=False)
    async with webhook_receiver() as receiver:
        inp = await subscribe(sessions, config, receiver)
        with pytest.raises(ApplicationError) as raised:
            await ActivityEnvironment().run(activities(sessions, config).deliver_webhook, inp)
        assert raised.value.type == WebhookErrorType.TARGET_REFUSED
        assert raised.value.non_retryable
        assert receiver.calls == []
    async with sessions() as session:
        row = await webhooks.get_delivery(session, inp.delivery_id)
        assert row is not None
        assert row.status == DeliveryStatus.DEAD.value
        assert "ALLOW_PRIVATE" in (row.last_error or "")


async def test_server_error_is_retried_and_recorded(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    config = settings(allow_private=True)
    async with webhook_receiver(statuses=[503]) as receiver:
        inp = await subscribe(sessions, config, receiver)
        with pytest.raises(ApplicationError) as raised:
            await ActivityEnvironment().run(activities(sessions, config).deliver_webhook, inp)
        assert raised.value.type == WebhookErrorType.RETRYABLE
        assert not raised.value.non_retryable
    async with sessions() as session:
        row = await webhooks.get_delivery(session, inp.delivery_id)
        hook = await webhooks.get_webhook(session, inp.webhook_id)
        assert row is not None
        assert hook is not None
        assert (row.status, row.attempts, row.last_status_code) == ("retrying", 1, 503)
        assert row.next_attempt_at is not None
        assert row.last_response is not None
        assert len(row.last_response) == 1024
        assert hook.failing_since is not None


async def test_failing_for_a_day_disables(sessions: async_sessionmaker[AsyncSession]) -> None:
    config = settings(allow_private=True)
    async with webhook_receiver(statuses=[500]) as receiver:
        inp = await subscribe(sessions, config, receiver)
        async with sessions() as session, session.begin():
            hook = await webhooks.get_webhook(session, inp.webhook_id)
            assert hook is not None
            hook.failing_since = datetime.now(UTC) - timedelta(days=2)
        with pytest.raises(ApplicationError) as raised:
            await ActivityEnvironment().run(activities(sessions, config).deliver_webhook, inp)
        assert raised.value.type == WebhookErrorType.DISABLED
    async with sessions() as session:
        hook = await webhooks.get_webhook(session, inp.webhook_id)
        assert hook is not None
        assert not hook.enabled
        assert "every delivery failed since" in (hook.disabled_reason or "")


async def test_retry_after_sets_the_next_try(sessions: async_sessionmaker[AsyncSession]) -> None:
    config = settings(allow_private=True)
    async with webhook_receiver(statuses=[429]) as receiver:
        receiver.refusal_headers = {"Retry-After": "7"}
        inp = await subscribe(sessions, config, receiver)
        with pytest.raises(ApplicationError) as raised:
            await ActivityEnvironment().run(activities(sessions, config).deliver_webhook, inp)
        assert raised.value.next_retry_delay == timedelta(seconds=7)
    async with sessions() as session:
        row = await webhooks.get_delivery(session, inp.delivery_id)
        assert row is not None
        assert row.last_attempt_at is not None
        assert row.next_attempt_at == row.last_attempt_at + timedelta(seconds=7)
