"""CloudCoreDeployWorkflow on the time-skipping server with stand-in activities."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.workflows.devices.fake_inventory_activities import FakeInventoryActivities
from workflows.cloudcore.deploy import CloudCoreDeployWorkflow
from workflows.contracts.cloudcore import (
    CloudCoreActivity,
    CloudCoreDeployInput,
    CloudCoreDeployProgress,
    CloudCoreSpec,
    CloudCoreState,
    CloudCoreTarget,
    DeployStatus,
)
from workflows.contracts.common import DEPLOY_FAILED

READ, APPLY, ROLLOUT, RESTORE, SNAPSHOT = (
    CloudCoreActivity.READ_CLOUDCORE.value,
    CloudCoreActivity.APPLY_CLOUDCORE.value,
    CloudCoreActivity.READ_CLOUDCORE_ROLLOUT.value,
    CloudCoreActivity.RESTORE_CLOUDCORE.value,
    CloudCoreActivity.SNAPSHOT_CLOUDCORE.value,
)


@pytest.fixture
def fakes() -> FakeInventoryActivities:
    return FakeInventoryActivities()


@pytest.fixture
async def task_queue(
    time_skipping_env: WorkflowEnvironment, fakes: FakeInventoryActivities
) -> AsyncIterator[str]:
    queue = f"cloudcore-{uuid.uuid4()}"
    async with Worker(
        time_skipping_env.client,
        task_queue=queue,
        workflows=[CloudCoreDeployWorkflow],
        activities=fakes.cloudcore(),
    ):
        yield queue


def deploy_input(timeout: float = 300) -> CloudCoreDeployInput:
    return CloudCoreDeployInput(
        target=CloudCoreTarget(namespace="kubeedge"),
        spec=CloudCoreSpec(version="1.18.0"),
        fingerprint="fp",
        rollout_timeout_seconds=timeout,
        poll_seconds=5,
    )


async def deploy(
    env: WorkflowEnvironment, queue: str, inp: CloudCoreDeployInput
) -> CloudCoreDeployProgress:
    return await env.client.execute_workflow(
        CloudCoreDeployWorkflow.run, inp, id=f"cloudcore-deploy/{uuid.uuid4()}", task_queue=queue
    )


async def failed_deploy(
    env: WorkflowEnvironment, queue: str, inp: CloudCoreDeployInput
) -> CloudCoreDeployProgress:
    with pytest.raises(WorkflowFailureError) as failure:
        await deploy(env, queue, inp)
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == DEPLOY_FAILED
    return CloudCoreDeployProgress.model_validate(cause.details[0])


async def test_waits_for_the_rollout_then_records_the_state(
    time_skipping_env: WorkflowEnvironment, task_queue: str, fakes: FakeInventoryActivities
) -> None:
    fakes.ready_after_polls = 4
    result = await deploy(time_skipping_env, task_queue, deploy_input())
    assert result.status == DeployStatus.SUCCEEDED
    assert result.message == "CloudCore deployed"
    assert result.version == "1.18.0"
    assert result.rollout is not None
    assert result.rollout.complete
    assert fakes.calls == [READ, APPLY, ROLLOUT, ROLLOUT, ROLLOUT, ROLLOUT, SNAPSHOT]
    assert not result.created  # the fake says a Deployment existed before


async def test_a_rollout_that_never_completes_is_rolled_back_at_the_deadline(
    time_skipping_env: WorkflowEnvironment, task_queue: str, fakes: FakeInventoryActivities
) -> None:
    fakes.ready_after_polls = None
    fakes.previous = CloudCoreState(deployment_existed=False, service_existed=False)
    progress = await failed_deploy(time_skipping_env, task_queue, deploy_input(timeout=20))
    assert progress.status == DeployStatus.ROLLED_BACK
    assert "rollout not complete after 20 s" in progress.message
    assert progress.created
    # Polled every 5 s for 20 s, then put back what was there: nothing.
    assert 3 <= fakes.calls.count(ROLLOUT) <= 6
    assert fakes.calls[-2:] == [RESTORE, SNAPSHOT]
    assert fakes.restored[0].previous == fakes.previous


async def test_a_failed_apply_is_rolled_back_to_the_previous_version(
    time_skipping_env: WorkflowEnvironment, task_queue: str, fakes: FakeInventoryActivities
) -> None:
    fakes.fail(CloudCoreActivity.APPLY_CLOUDCORE, error_type="KubernetesRejected")
    progress = await failed_deploy(time_skipping_env, task_queue, deploy_input())
    assert progress.status == DeployStatus.ROLLED_BACK
    assert progress.message.startswith("applying failed")
    assert fakes.calls == [READ, APPLY, RESTORE, SNAPSHOT]
    assert fakes.restored[0].previous.image == "old"


async def test_a_failed_read_changes_nothing(
    time_skipping_env: WorkflowEnvironment, task_queue: str, fakes: FakeInventoryActivities
) -> None:
    fakes.fail(CloudCoreActivity.READ_CLOUDCORE)
    progress = await failed_deploy(time_skipping_env, task_queue, deploy_input())
    assert progress.status == DeployStatus.FAILED
    assert fakes.calls == [READ]


async def test_a_rollback_that_fails_for_good_says_so(
    time_skipping_env: WorkflowEnvironment, task_queue: str, fakes: FakeInventoryActivities
) -> None:
    fakes.ready_after_polls = None
    fakes.fail(CloudCoreActivity.RESTORE_CLOUDCORE)
    progress = await failed_deploy(time_skipping_env, task_queue, deploy_input(timeout=10))
    assert progress.status == DeployStatus.FAILED
    assert "rollback failed" in progress.message
    assert SNAPSHOT not in fakes.calls
