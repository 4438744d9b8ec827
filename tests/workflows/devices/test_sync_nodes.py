"""SyncNodesWorkflow on the time-skipping server with a stand-in sync activity."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.support.helpers import eventually
from tests.workflows.devices.fake_inventory_activities import FakeInventoryActivities
from workflows.contracts.devices import (
    SYNC_LAST_QUERY,
    SYNC_NOW_SIGNAL,
    DevicesActivity,
    SyncNodesInput,
    SyncSummary,
)
from workflows.devices.sync_nodes import SyncNodesWorkflow


@pytest.fixture
def fakes() -> FakeInventoryActivities:
    return FakeInventoryActivities()


@pytest.fixture
async def task_queue(
    time_skipping_env: WorkflowEnvironment, fakes: FakeInventoryActivities
) -> AsyncIterator[str]:
    queue = f"sync-{uuid.uuid4()}"
    async with Worker(
        time_skipping_env.client,
        task_queue=queue,
        workflows=[SyncNodesWorkflow],
        activities=fakes.sync(),
    ):
        yield queue


async def test_rounds_repeat_and_continue_as_new(
    time_skipping_env: WorkflowEnvironment, task_queue: str, fakes: FakeInventoryActivities
) -> None:
    handle = await time_skipping_env.client.start_workflow(
        SyncNodesWorkflow.run,
        SyncNodesInput(interval_seconds=0.1, rounds_per_run=2),
        id=f"sync-nodes-{uuid.uuid4()}",
        task_queue=task_queue,
    )
    try:

        async def five_rounds() -> bool:
            return fakes.sync_rounds >= 5

        await eventually(five_rounds)  # 5 rounds of 2 per run: continued as new twice
        described = await handle.describe()
        assert described.run_id != handle.result_run_id
    finally:
        await handle.terminate()


async def test_a_signal_starts_a_round_at_once_and_failures_do_not_stop_it(
    time_skipping_env: WorkflowEnvironment, task_queue: str, fakes: FakeInventoryActivities
) -> None:
    fakes.fail(DevicesActivity.SYNC_CLUSTER)
    handle = await time_skipping_env.client.start_workflow(
        SyncNodesWorkflow.run,
        SyncNodesInput(interval_seconds=24 * 3600),
        id=f"sync-nodes-{uuid.uuid4()}",
        task_queue=task_queue,
    )
    try:

        async def tried() -> bool:
            return DevicesActivity.SYNC_CLUSTER.value in fakes.calls

        await eventually(tried)  # the round failed for good (a final error)
        del fakes.failures[DevicesActivity.SYNC_CLUSTER]
        await handle.signal(SYNC_NOW_SIGNAL)

        async def synced() -> SyncSummary | None:
            last: SyncSummary | None = await handle.query(SYNC_LAST_QUERY, result_type=SyncSummary)
            return last

        summary = await eventually(synced)
        assert summary.nodes_seen == 1
    finally:
        await handle.terminate()
