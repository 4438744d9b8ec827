"""Record a DeviceJoinWorkflow history for the replay test.

`python -m tests.workflows.join.record_history` runs one successful join and one failed join
against the time-skipping server with stand-in activities and writes their histories to
tests/workflows/histories/device_join_*.json. Re-record only on purpose: a
history that no longer replays means the change would break runs already in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sysconfig
import uuid
from pathlib import Path

from temporalio.client import Client, WorkflowFailureError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.workflows.join.fake_join_activities import FakeJoinActivities
from tests.workflows.join.join_inputs import join_input
from workflows.contracts.common import SEARCH_ATTRIBUTES
from workflows.contracts.join import JOIN_PROVISIONED_UPDATE, JoinActivity, JoinProgress
from workflows.join.device_join import DeviceJoinWorkflow

HISTORIES = Path(__file__).parents[1] / "histories"


async def record_join(client: Client, *, name: str, fakes: FakeJoinActivities) -> str:
    """Run one join on `client` and return its history as JSON."""
    queue = f"record-{uuid.uuid4()}"
    async with Worker(
        client, task_queue=queue, workflows=[DeviceJoinWorkflow], activities=fakes.all()
    ):
        handle = await client.start_workflow(
            DeviceJoinWorkflow.run, join_input(), id=f"device-join/{name}", task_queue=queue
        )
        await handle.execute_update(JOIN_PROVISIONED_UPDATE, "fp-1", result_type=JoinProgress)
        with contextlib.suppress(WorkflowFailureError):
            await handle.result()
        history = await handle.fetch_history()
    return history.to_json()


async def main() -> None:
    from tests.support.temporal_fixtures import register_search_attributes

    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=str(Path(sysconfig.get_path("scripts")) / "temporal-test-server"),
    )
    await register_search_attributes(env.client, SEARCH_ATTRIBUTES)
    try:
        # device_join_joined and device_join_failed_at_rbac were recorded before devices
        # had MQTT accounts and stay as they are: runs of that code may still be in flight.
        joined = FakeJoinActivities(ready_after_polls=3)
        failed = FakeJoinActivities()
        failed.fail(JoinActivity.NOTIFY_DEVICE_PROVISIONED)
        for name, fakes in (
            ("joined-with-mqtt-account", joined),
            ("failed-at-notify-after-mqtt-account", failed),
        ):
            text = await record_join(env.client, name=name, fakes=fakes)
            (HISTORIES / f"device_join_{name.replace('-', '_')}.json").write_text(text)
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
    os._exit(0)
