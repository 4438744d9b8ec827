"""WebhookDeliveryWorkflow on the time-skipping server: retried by its policy, final
answers not retried, dead when the window ends."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.workflows.webhooks.fake_delivery_activities import FakeDelivery
from workflows.contracts.webhooks import (
    WEBHOOK_DELIVERY_WORKFLOW,
    DeliveryInput,
    DeliveryResult,
    DeliveryRetry,
    DeliveryStatus,
    WebhookEvent,
)
from workflows.webhooks.delivery import WebhookDeliveryWorkflow


def delivery(*, initial: float = 0.05, window: float = 3600.0) -> DeliveryInput:
    return DeliveryInput(
        delivery_id=f"dlv_{uuid.uuid4().hex}",
        webhook_id="wh_1",
        event=WebhookEvent.DEVICE_JOINED,
        event_id="device_joined:edge-1@run",
        occurred_at=datetime(2024, 1, 15, 10, 30, tzinfo=UTC),
        data={"device_id": "edge-1", "node_name": "edge-1"},
        retry=DeliveryRetry(
            initial_seconds=initial, maximum_seconds=600, give_up_after_seconds=window
        ),
    )


async def deliver(client: Client, fake: FakeDelivery, inp: DeliveryInput) -> DeliveryResult:
    queue = f"webhooks-{uuid.uuid4()}"
    async with Worker(
        client, task_queue=queue, workflows=[WebhookDeliveryWorkflow], activities=fake.all()
    ):
        result: DeliveryResult = await client.execute_workflow(
            WEBHOOK_DELIVERY_WORKFLOW,
            inp,
            id=f"webhook-delivery/{inp.delivery_id}",
            task_queue=queue,
            result_type=DeliveryResult,
        )
    return result


async def test_retried_until_delivered(time_skipping_env: WorkflowEnvironment) -> None:
    fake = FakeDelivery(answers=[503, None, 429, 204])
    result = await deliver(time_skipping_env.client, fake, delivery())
    assert (result.status, result.status_code, fake.attempts) == (DeliveryStatus.DELIVERED, 204, 4)
    assert [f.status for f in fake.finished] == [DeliveryStatus.DELIVERED]


async def test_final_answer_is_dead_at_once(time_skipping_env: WorkflowEnvironment) -> None:
    fake = FakeDelivery(answers=[404])
    result = await deliver(time_skipping_env.client, fake, delivery())
    assert (result.status, fake.attempts) == (DeliveryStatus.DEAD, 1)
    assert result.error == "answered 404"
    assert fake.finished[0].status is DeliveryStatus.DEAD


async def test_dead_when_the_window_ends(time_skipping_env: WorkflowEnvironment) -> None:
    # 30 s, 60 s, 120 s, 240 s...: a 400 s window holds four tries.
    fake = FakeDelivery(answers=[500] * 50)
    result = await deliver(time_skipping_env.client, fake, delivery(initial=30, window=400))
    assert result.status is DeliveryStatus.DEAD
    assert 2 <= fake.attempts < 10
