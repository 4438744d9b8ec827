"""DeviceRemovalWorkflow on the time-skipping server with stand-in activities."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.workflows.devices.fake_inventory_activities import FakeInventoryActivities
from workflows.contracts.common import REMOVAL_FAILED
from workflows.contracts.devices import (
    REMOVAL_PROGRESS_QUERY,
    DeviceRemovalInput,
    DevicesActivity,
    NodeDeletion,
    RemovalProgress,
    RemovalStep,
)
from workflows.contracts.join import JoinActivity
from workflows.devices.removal import DeviceRemovalWorkflow

ORDER = [
    DevicesActivity.CANCEL_JOIN_RUN.value,
    JoinActivity.DELETE_DEVICE_RESOURCE.value,
    JoinActivity.DELETE_EDGECORE_CONFIGMAP.value,
    JoinActivity.DELETE_NODE_RBAC.value,
    DevicesActivity.DELETE_NODE.value,
    DevicesActivity.REVOKE_DEVICE_TOKENS.value,
    JoinActivity.DELETE_DEVICE_RECORD.value,
]
# The CloudCore document's four actions, among ours.
SEED_ACTIONS = [
    "Device CRD deleted",
    "ConfigMap deleted",
    "Node removed from cluster",
    "Token revoked",
]


@pytest.fixture
def fakes() -> FakeInventoryActivities:
    return FakeInventoryActivities()


@pytest.fixture
async def task_queue(
    time_skipping_env: WorkflowEnvironment, fakes: FakeInventoryActivities
) -> AsyncIterator[str]:
    queue = f"removal-{uuid.uuid4()}"
    async with Worker(
        time_skipping_env.client,
        task_queue=queue,
        workflows=[DeviceRemovalWorkflow],
        activities=fakes.removal(),
    ):
        yield queue


def removal_input(node_id: str | None = "node-uuid-1") -> DeviceRemovalInput:
    return DeviceRemovalInput(device_id="camera-001", node_name="edge-node-001", node_id=node_id)


async def remove(env: WorkflowEnvironment, queue: str, inp: DeviceRemovalInput) -> RemovalProgress:
    return await env.client.execute_workflow(
        DeviceRemovalWorkflow.run,
        inp,
        id=f"device-removal/{uuid.uuid4()}",
        task_queue=queue,
    )


async def test_removes_everything_in_order_with_the_seed_wording(
    time_skipping_env: WorkflowEnvironment, task_queue: str, fakes: FakeInventoryActivities
) -> None:
    result = await remove(time_skipping_env, task_queue, removal_input())
    assert fakes.calls == ORDER
    assert result.finished
    assert result.join_cancelled is False
    assert result.actions_taken == [
        "Device CRD deleted",
        "ConfigMap deleted",
        "RBAC removed",
        "Node removed from cluster",
        "Token revoked",
        "Inventory record deleted",
    ]
    assert [a for a in result.actions_taken if a in SEED_ACTIONS] == SEED_ACTIONS
    assert result.tokens_revoked.node_tokens == 2
    assert result.steps_done == list(RemovalStep)


async def test_half_joined_device_has_its_join_cancelled_first(
    time_skipping_env: WorkflowEnvironment, task_queue: str, fakes: FakeInventoryActivities
) -> None:
    fakes.join_was_running = True
    result = await remove(time_skipping_env, task_queue, removal_input(node_id=None))
    assert result.join_cancelled
    assert result.actions_taken[0] == "Join run cancelled"
    assert fakes.calls == ORDER  # the removal still sweeps everything behind the join


async def test_a_node_that_is_not_an_edge_node_is_kept_and_said_so(
    time_skipping_env: WorkflowEnvironment, task_queue: str, fakes: FakeInventoryActivities
) -> None:
    fakes.node = NodeDeletion.NOT_EDGE
    result = await remove(time_skipping_env, task_queue, removal_input())
    assert "Node removed from cluster" not in result.actions_taken
    assert "Node kept: not an edge node" in result.actions_taken


@pytest.mark.parametrize("index", range(len(ORDER)))
async def test_a_final_failure_stops_and_keeps_the_record(
    time_skipping_env: WorkflowEnvironment,
    task_queue: str,
    fakes: FakeInventoryActivities,
    index: int,
) -> None:
    failing = ORDER[index]
    name = next(n for n in (*JoinActivity, *DevicesActivity) if n.value == failing)
    fakes.fail(name)
    with pytest.raises(WorkflowFailureError) as failure:
        await remove(time_skipping_env, task_queue, removal_input())
    assert fakes.calls == ORDER[: index + 1]
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == REMOVAL_FAILED
    progress = RemovalProgress.model_validate(cause.details[0])
    assert progress.failure is not None
    assert progress.failure.step == list(RemovalStep)[index]
    assert progress.failure.error_type == "Forbidden"
    assert progress.steps_done == list(RemovalStep)[:index]


async def test_transient_failures_are_retried_until_they_pass(
    time_skipping_env: WorkflowEnvironment, task_queue: str, fakes: FakeInventoryActivities
) -> None:
    attempts = 0

    def flaky() -> Exception:
        nonlocal attempts
        attempts += 1
        if attempts >= 3:
            del fakes.failures[DevicesActivity.DELETE_NODE]
        return ApplicationError("API server unavailable", type="KubernetesUnavailable")

    fakes.failures[DevicesActivity.DELETE_NODE] = flaky
    result = await remove(time_skipping_env, task_queue, removal_input())
    assert result.finished
    assert fakes.calls.count(DevicesActivity.DELETE_NODE.value) == 4


async def test_progress_is_queryable_after_the_run(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    workflow_id = f"device-removal/{uuid.uuid4()}"
    handle = await time_skipping_env.client.start_workflow(
        DeviceRemovalWorkflow.run, removal_input(), id=workflow_id, task_queue=task_queue
    )
    await handle.result()
    progress = await handle.query(REMOVAL_PROGRESS_QUERY, result_type=RemovalProgress)
    assert progress.stage == "removed"
