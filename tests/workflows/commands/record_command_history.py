"""Record CommandWorkflow histories for the replay test.

`python -m tests.workflows.commands.record_command_history` runs a command that completes and one
that times out against the time-skipping server with stand-in activities, and writes
their histories to tests/workflows/histories/. Re-record only on purpose: a history that
no longer replays means the change would break commands already in flight.
"""

from __future__ import annotations

import asyncio
import os
import sysconfig
import uuid
from datetime import UTC, datetime
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.workflows.commands.fake_command_activities import FakeCommandActivities
from workflows.commands.command import CommandWorkflow
from workflows.contracts.commands import COMMAND_RESULT_SIGNAL, CommandInput, DeviceResult
from workflows.contracts.common import SEARCH_ATTRIBUTES

HISTORIES = Path(__file__).parents[1] / "histories"


async def record_command(client: Client, *, name: str, answer: bool) -> str:
    fakes = FakeCommandActivities(client)
    queue = f"record-{uuid.uuid4()}"
    inp = CommandInput(
        command_id=f"cmd_{name}",
        device_id="camera-001",
        command="capture_image",
        parameters={"resolution": "1920x1080"},
        timeout_seconds=30,
        connect_timeout_seconds=60,
        fingerprint="fp",
    )
    async with Worker(
        client, task_queue=queue, workflows=[CommandWorkflow], activities=fakes.all()
    ):
        handle = await client.start_workflow(
            CommandWorkflow.run, inp, id=f"command/{name}-{uuid.uuid4().hex[:6]}", task_queue=queue
        )
        if answer:
            result = DeviceResult(
                command_id=inp.command_id,
                device_id=inp.device_id,
                success=True,
                result={"image_url": "file:///x.jpg"},
                received_at=datetime.now(UTC),
            )
            await handle.signal(COMMAND_RESULT_SIGNAL, result)
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
        for name, answer in (("completed", True), ("timed_out", False)):
            text = await record_command(env.client, name=name, answer=answer)
            (HISTORIES / f"command_{name}.json").write_text(text)
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
    os._exit(0)
