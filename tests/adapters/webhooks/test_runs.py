"""A redelivery that comes while the dead delivery's run is still closing waits for it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from temporalio import workflow
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from adapters.webhooks.runs import start_redelivery
from workflows.contracts.webhooks import (
    WEBHOOK_DELIVERY_WORKFLOW,
    DeliveryInput,
    DeliveryRetry,
    WebhookEvent,
    delivery_workflow_id,
)


@workflow.defn(name=WEBHOOK_DELIVERY_WORKFLOW, sandboxed=False)
class ClosingDelivery:
    """Stands in for a run that recorded its delivery dead: it closes when told."""

    def __init__(self) -> None:
        self.close = False

    @workflow.run
    async def run(self, inp: DeliveryInput) -> str:
        await workflow.wait_condition(lambda: self.close)
        return inp.delivery_id

    @workflow.signal
    def finish(self) -> None:
        self.close = True


def _input() -> DeliveryInput:
    return DeliveryInput(
        delivery_id=f"dlv_{uuid.uuid4().hex}",
        webhook_id="wh_test",
        event=WebhookEvent.PING,
        event_id=f"evt_{uuid.uuid4().hex}",
        occurred_at=datetime.now(UTC),
        data={},
        retry=DeliveryRetry(initial_seconds=1, maximum_seconds=2, give_up_after_seconds=60),
    )


@asynccontextmanager
async def open_delivery(
    env: WorkflowEnvironment,
) -> AsyncIterator[tuple[DeliveryInput, str, WorkflowHandle[Any, str]]]:
    """A delivery whose run is open (on a queue of its own) until it is told to finish."""
    queue = f"runs-{uuid.uuid4().hex}"
    inp = _input()
    async with Worker(env.client, task_queue=queue, workflows=[ClosingDelivery]):
        handle = await env.client.start_workflow(
            ClosingDelivery.run, inp, id=delivery_workflow_id(inp.delivery_id), task_queue=queue
        )
        yield inp, queue, handle


async def test_a_closing_run_is_waited_for_then_started_again(
    dev_env: WorkflowEnvironment,
) -> None:
    async with open_delivery(dev_env) as (inp, queue, closing):
        redelivery = asyncio.create_task(start_redelivery(dev_env.client, inp, task_queue=queue))
        await asyncio.sleep(0.3)  # it finds the run open and waits
        await closing.signal(ClosingDelivery.finish)
        assert await redelivery
        again = dev_env.client.get_workflow_handle(delivery_workflow_id(inp.delivery_id))
        assert (await again.describe()).run_id != closing.result_run_id
        await again.signal(ClosingDelivery.finish)
        assert await again.result() == inp.delivery_id


async def test_a_run_that_does_not_close_refuses_the_redelivery(
    dev_env: WorkflowEnvironment,
) -> None:
    async with open_delivery(dev_env) as (inp, queue, going):
        assert not await start_redelivery(dev_env.client, inp, task_queue=queue, settle_seconds=0.5)
        assert (await going.describe()).run_id == going.result_run_id  # untouched
        await going.signal(ClosingDelivery.finish)
        await going.result()
