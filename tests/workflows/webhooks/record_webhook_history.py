"""Record WebhookDelivery histories for the replay tests.

`python -m tests.workflows.webhooks.record_webhook_history` runs a delivery retried then
delivered and one answered for good with a 404 (dead), on the time-skipping server with
the stand-in activities, and writes them to tests/workflows/histories/. Re-record only
on purpose: a history that no longer replays means a change would break runs in flight.
"""

from __future__ import annotations

import asyncio
import os
import sysconfig
import uuid
from pathlib import Path

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.workflows.webhooks.fake_delivery_activities import FakeDelivery
from tests.workflows.webhooks.test_delivery_workflow import delivery
from workflows.contracts.webhooks import WEBHOOK_DELIVERY_WORKFLOW
from workflows.webhooks.delivery import WebhookDeliveryWorkflow

HISTORIES = Path(__file__).parents[1] / "histories"
RUNS: dict[str, list[int | None]] = {
    "webhook_delivery_retried_delivered": [503, None, 200],
    "webhook_delivery_dead": [404],
}


async def main() -> None:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=str(Path(sysconfig.get_path("scripts")) / "temporal-test-server"),
    )
    try:
        for name, answers in RUNS.items():
            queue = f"record-{uuid.uuid4()}"
            fake = FakeDelivery(answers=list(answers))
            async with Worker(
                env.client,
                task_queue=queue,
                workflows=[WebhookDeliveryWorkflow],
                activities=fake.all(),
            ):
                handle = await env.client.start_workflow(
                    WEBHOOK_DELIVERY_WORKFLOW,
                    delivery(),
                    id=f"webhook-delivery/{name}",
                    task_queue=queue,
                )
                await handle.result()
                history = await handle.fetch_history()
            (HISTORIES / f"{name}.json").write_text(history.to_json())
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
    os._exit(0)
