"""DeviceJoinWorkflow on the time-skipping server with stand-in activities."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from temporalio.client import (
    WithStartWorkflowOperation,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError, CancelledError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.support.helpers import eventually
from tests.workflows.join.fake_join_activities import FakeJoinActivities
from tests.workflows.join.join_inputs import DAY, join_input
from workflows.contracts.join import (
    JOIN_PROGRESS_QUERY,
    JOIN_PROVISIONED_UPDATE,
    DeviceJoinInput,
    JoinActivity,
    JoinProgress,
    JoinStatus,
    JoinStep,
)
from workflows.join.device_join import DeviceJoinWorkflow

# Each forward step, the activity that does it, and the undo it needs once done.
STEPS = [
    (JoinStep.VALIDATE, JoinActivity.VALIDATE_JOIN, None),
    (JoinStep.ISSUE_TOKEN, JoinActivity.ISSUE_JOIN_TOKEN, JoinActivity.REVOKE_JOIN_TOKEN),
    (
        JoinStep.CREATE_CONFIGMAP,
        JoinActivity.APPLY_EDGECORE_CONFIGMAP,
        JoinActivity.DELETE_EDGECORE_CONFIGMAP,
    ),
    (
        JoinStep.CREATE_DEVICE,
        JoinActivity.APPLY_DEVICE_RESOURCE,
        JoinActivity.DELETE_DEVICE_RESOURCE,
    ),
    (JoinStep.CONFIGURE_RBAC, JoinActivity.APPLY_NODE_RBAC, JoinActivity.DELETE_NODE_RBAC),
    (JoinStep.RECORD_INVENTORY, JoinActivity.RECORD_DEVICE, JoinActivity.DELETE_DEVICE_RECORD),
    (
        JoinStep.ISSUE_MQTT_CREDENTIALS,
        JoinActivity.ISSUE_MQTT_CREDENTIALS,
        JoinActivity.REVOKE_MQTT_CREDENTIALS,
    ),
    (JoinStep.NOTIFY, JoinActivity.NOTIFY_DEVICE_PROVISIONED, None),
]
ALL_UNDOS = [undo.value for _, _, undo in reversed(STEPS) if undo is not None]


@pytest.fixture
async def fakes() -> FakeJoinActivities:
    return FakeJoinActivities()


@pytest.fixture
async def task_queue(
    time_skipping_env: WorkflowEnvironment, fakes: FakeJoinActivities
) -> AsyncIterator[str]:
    queue = f"join-{uuid.uuid4()}"
    async with Worker(
        time_skipping_env.client,
        task_queue=queue,
        workflows=[DeviceJoinWorkflow],
        activities=fakes.all(),
    ):
        yield queue


async def start(
    env: WorkflowEnvironment, queue: str, inp: DeviceJoinInput
) -> WorkflowHandle[DeviceJoinWorkflow, JoinProgress]:
    return await env.client.start_workflow(
        DeviceJoinWorkflow.run, inp, id=f"device-join/{uuid.uuid4()}", task_queue=queue
    )


async def start_provisioned(
    env: WorkflowEnvironment, queue: str, inp: DeviceJoinInput
) -> tuple[WorkflowHandle[DeviceJoinWorkflow, JoinProgress], JoinProgress]:
    """Start and ask for the provisioning answer in one call, as the API does."""
    operation = WithStartWorkflowOperation(
        DeviceJoinWorkflow.run,
        inp,
        id=f"device-join/{uuid.uuid4()}",
        task_queue=queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    answer = await env.client.execute_update_with_start_workflow(
        DeviceJoinWorkflow.provisioned, inp.fingerprint, start_workflow_operation=operation
    )
    return await operation.workflow_handle(), answer


def undo_calls(fakes: FakeJoinActivities) -> list[str]:
    return [call for call in fakes.calls if call in ALL_UNDOS]


async def test_joins_when_node_turns_ready(
    time_skipping_env: WorkflowEnvironment, task_queue: str, fakes: FakeJoinActivities
) -> None:
    fakes.ready_after_polls = 3
    # These polls' timers were seen to run in real time on the test server: keep them short
    # (0.25, 0.5, 1 s).
    quick = join_input().model_copy(update={"node_poll_initial_seconds": 0.25})
    handle, provisioned = await start_provisioned(time_skipping_env, task_queue, quick)
    assert provisioned.status == JoinStatus.WAITING_FOR_NODE
    assert provisioned.steps.rbac_configured
    assert provisioned.steps.notified
    assert provisioned.sealed_token == "sealed"
    assert provisioned.configmap_name == "edgecore-config-edge-node-001"
    # The device's own MQTT account: its password only ever sealed in history.
    assert provisioned.mqtt_username == quick.device_id
    assert provisioned.sealed_mqtt_password == "sealed-mqtt"

    result = await handle.result()
    assert result.status == JoinStatus.JOINED
    assert result.node_ready_at is not None
    assert fakes.calls[: len(STEPS)] == [activity.value for _, activity, _ in STEPS]
    assert fakes.calls.count(JoinActivity.READ_NODE_STATUS.value) == 3
    assert fakes.calls[-1] == JoinActivity.COMPLETE_JOIN.value
    assert not set(fakes.calls) & set(ALL_UNDOS)


@pytest.mark.parametrize(("index", "step"), [(i, s[0]) for i, s in enumerate(STEPS)])
async def test_failure_undoes_exactly_the_earlier_steps_in_reverse(
    time_skipping_env: WorkflowEnvironment,
    task_queue: str,
    fakes: FakeJoinActivities,
    index: int,
    step: JoinStep,
) -> None:
    fakes.fail(STEPS[index][1])
    handle, answer = await start_provisioned(time_skipping_env, task_queue, join_input())

    expected_undos = [undo for _, _, undo in reversed(STEPS[:index]) if undo is not None]
    assert answer.status == JoinStatus.FAILED
    assert answer.failure is not None
    assert answer.failure.step == step
    assert answer.failure.error_type == "KubernetesRejected"
    assert answer.failure.compensated == [s for s, _, u in reversed(STEPS[:index]) if u]
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    assert isinstance(failure.value.cause, ApplicationError)
    assert failure.value.cause.type == "JoinFailed"
    assert undo_calls(fakes) == [undo.value for undo in expected_undos]
    assert STEPS[index][1].value in fakes.calls
    later = {activity.value for _, activity, _ in STEPS[index + 1 :]}
    assert not later & set(fakes.calls)


async def test_step_that_timed_out_is_undone_too(
    time_skipping_env: WorkflowEnvironment, task_queue: str, fakes: FakeJoinActivities
) -> None:
    # Retries exhausted on a retryable error: the ConfigMap may exist, so it is deleted.
    fakes.fail(JoinActivity.APPLY_EDGECORE_CONFIGMAP, retryable=True)
    _, answer = await start_provisioned(time_skipping_env, task_queue, join_input())
    assert answer.failure is not None
    assert answer.failure.compensated == [JoinStep.CREATE_CONFIGMAP, JoinStep.ISSUE_TOKEN]
    # Retried up to the policy's five attempts before giving up.
    assert fakes.calls.count(JoinActivity.APPLY_EDGECORE_CONFIGMAP.value) >= 5


async def test_token_expiry_undoes_everything(
    time_skipping_env: WorkflowEnvironment, task_queue: str, fakes: FakeJoinActivities
) -> None:
    fakes.ready_after_polls = None
    handle = await start(time_skipping_env, task_queue, join_input(ttl=DAY // 2))
    result = await handle.result()
    assert result.status == JoinStatus.EXPIRED
    assert undo_calls(fakes) == ALL_UNDOS
    assert JoinActivity.COMPLETE_JOIN.value not in fakes.calls
    # Back-off keeps the number of polls small: 2 s doubling to 5 min over 12 hours.
    assert fakes.calls.count(JoinActivity.READ_NODE_STATUS.value) < 160


async def test_cancel_while_waiting_undoes_everything(
    time_skipping_env: WorkflowEnvironment, task_queue: str, fakes: FakeJoinActivities
) -> None:
    fakes.ready_after_polls = None
    handle, _ = await start_provisioned(time_skipping_env, task_queue, join_input())
    await handle.cancel()
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    assert isinstance(failure.value.cause, CancelledError)
    assert undo_calls(fakes) == ALL_UNDOS
    progress = await handle.query(JOIN_PROGRESS_QUERY, result_type=JoinProgress)
    assert progress.status == JoinStatus.CANCELLED


async def test_cancel_during_provisioning_undoes_what_it_did_once_it_ends(
    time_skipping_env: WorkflowEnvironment, task_queue: str, fakes: FakeJoinActivities
) -> None:
    # Cancelled while RBAC is being applied: provisioning runs to its end (it is one local
    # activity, so what it did is known only then), and then every step is undone.
    fakes.holds[JoinActivity.APPLY_NODE_RBAC] = asyncio.Event()
    handle = await start(time_skipping_env, task_queue, join_input())

    async def applying_rbac() -> bool:
        return JoinActivity.APPLY_NODE_RBAC.value in fakes.calls

    await eventually(applying_rbac)
    await handle.cancel()
    fakes.holds[JoinActivity.APPLY_NODE_RBAC].set()
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    assert isinstance(failure.value.cause, CancelledError)
    forward = [activity.value for _, activity, _ in STEPS]
    assert fakes.calls == forward + ALL_UNDOS


async def test_other_request_for_same_device_is_rejected(
    time_skipping_env: WorkflowEnvironment, task_queue: str, fakes: FakeJoinActivities
) -> None:
    fakes.ready_after_polls = None
    handle = await start(time_skipping_env, task_queue, join_input())
    with pytest.raises(WorkflowUpdateFailedError) as rejected:
        await handle.execute_update(JOIN_PROVISIONED_UPDATE, "fp-2", result_type=JoinProgress)
    assert isinstance(rejected.value.cause, ApplicationError)
    assert rejected.value.cause.type == "Conflict"
    same = await handle.execute_update(JOIN_PROVISIONED_UPDATE, "fp-1", result_type=JoinProgress)
    assert same.status == JoinStatus.WAITING_FOR_NODE
    await handle.cancel()
