"""The Temporal dev server SIGKILLed in the middle of a batch join, then started again on
its SQLite file: the batch finishes, every device joined exactly once, nothing orphaned."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from tests.e2e.batch_helpers import (
    assert_each_joined_once,
    batch_status,
    devices,
    other_secrets,
    start_batch,
    wait_done,
)
from tests.e2e.faults.restartable_temporal import RestartableTemporal, restartable_temporal
from tests.e2e.stack import running_stack, stack_settings
from tests.support.helpers import eventually
from tests.support.kube_fixtures import sandbox_api_client
from tests.support.mqtt_fixtures import Broker

__all__ = ["restartable_temporal"]  # the fixture, used by name below

BATCH = 40

# Room for a loaded 2-core machine: the stack's first start in a session alone can take a
# minute (temporalio hashes every loaded module for the worker's build ID).
pytestmark = pytest.mark.timeout(300)


async def test_temporal_killed_mid_batch_joins_every_device_exactly_once(
    restartable_temporal: RestartableTemporal,
    kube_sandbox_url: str,
    mqtt_broker: Broker,
    tmp_path: Path,
) -> None:
    temporal = await restartable_temporal.connect()
    settings = stack_settings(
        data_dir=tmp_path, temporal=temporal, sandbox_url=kube_sandbox_url, broker=mqtt_broker
    ).model_copy(update={"batch_sync_limit": 0})
    sandbox = sandbox_api_client(kube_sandbox_url)
    tag = uuid.uuid4().hex[:6]
    secrets_before = await asyncio.to_thread(other_secrets, sandbox, tag)
    async with running_stack(settings, temporal) as stack:
        auth = await stack.login()
        batch_id = await start_batch(stack, auth, devices(BATCH, tag=tag), window=10)

        async def some_progress() -> int | None:
            status = await batch_status(stack, batch_id, auth)
            success = int(status["success"]) if status is not None else 0
            return success if 5 <= success < BATCH else None

        at_kill = await eventually(some_progress, within=120)
        await restartable_temporal.kill()
        await restartable_temporal.start()
        report = await wait_done(stack, batch_id, auth)

        assert at_kill < BATCH  # the kill came mid-batch
        assert (report["status"], report["success"], report["failed"]) == ("completed", BATCH, 0)
        await assert_each_joined_once(
            stack, sandbox, tag, devices=BATCH, secrets_before=secrets_before
        )
