"""Start (or attach to) a CloudCoreDeployWorkflow and wait for its answer.

One deploy per namespace at a time: the workflow ID is `cloudcore-deploy/{namespace}`.
The same request while one runs attaches to it; another request is a conflict. A
finished deploy does not hold the ID: deploying again starts a new run.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from api.core.runs import StillRunning, failure_of, result_within
from workflows.contracts.cloudcore import (
    CLOUDCORE_DEPLOY_WORKFLOW,
    DEPLOY_PROGRESS_QUERY,
    CloudCoreDeployInput,
    CloudCoreDeployProgress,
    cloudcore_deploy_workflow_id,
)
from workflows.contracts.common import DEPLOY_FAILED

# The rollout wait plus a rollback with patient retries.
SLACK = timedelta(hours=2)


class DeployConflict(Exception):
    def __init__(self, running: CloudCoreDeployProgress) -> None:
        super().__init__("another CloudCore deploy is running")
        self.running = running


class DeployFailed(Exception):
    def __init__(self, message: str, progress: CloudCoreDeployProgress | None) -> None:
        super().__init__(message)
        self.progress = progress


async def deploy_cloudcore(
    client: Client, *, inp: CloudCoreDeployInput, task_queue: str, answer_timeout: float
) -> tuple[CloudCoreDeployProgress, bool]:
    """(progress, finished); finished False means the rollout is still being waited for."""
    handle = await _start_or_attach(client, inp=inp, task_queue=task_queue)
    try:
        return await result_within(handle, seconds=answer_timeout), True
    except StillRunning:
        progress: CloudCoreDeployProgress = await handle.query(
            DEPLOY_PROGRESS_QUERY, result_type=CloudCoreDeployProgress
        )
        return progress, False
    except WorkflowFailureError as err:
        at_failure = failure_of(err, CloudCoreDeployProgress, type_=DEPLOY_FAILED)
        message = at_failure.message if at_failure else str(err.cause or err)
        raise DeployFailed(message, at_failure) from err


async def _start_or_attach(
    client: Client, *, inp: CloudCoreDeployInput, task_queue: str
) -> WorkflowHandle[object, CloudCoreDeployProgress]:
    workflow_id = cloudcore_deploy_workflow_id(inp.target.namespace)
    try:
        return await client.start_workflow(
            CLOUDCORE_DEPLOY_WORKFLOW,
            inp,
            id=workflow_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            execution_timeout=timedelta(seconds=inp.rollout_timeout_seconds) + SLACK,
            result_type=CloudCoreDeployProgress,
        )
    except WorkflowAlreadyStartedError:
        pass
    handle = client.get_workflow_handle(workflow_id, result_type=CloudCoreDeployProgress)
    running: CloudCoreDeployProgress = await handle.query(
        DEPLOY_PROGRESS_QUERY, result_type=CloudCoreDeployProgress
    )
    if running.fingerprint != inp.fingerprint:
        raise DeployConflict(running)
    return handle
