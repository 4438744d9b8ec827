"""Start (or attach to) a CloudCoreDeployWorkflow and wait for its answer.

One deploy per namespace at a time: the workflow ID is `cloudcore-deploy/{namespace}`.
The same request while one runs attaches to it; another request is a conflict. A
finished deploy does not hold the ID: deploying again starts a new run.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from temporalio.client import Client, WorkflowFailureError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from api.core.runs import (
    Outcome,
    RunStart,
    ensure_same_request,
    failure_of,
    outcome_within,
    progress_of,
    start_or_attach,
)
from workflows.contracts import summaries
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


class DeployFailed(Exception):
    def __init__(self, message: str, progress: CloudCoreDeployProgress | None) -> None:
        super().__init__(message)
        self.progress = progress


async def deploy_cloudcore(
    client: Client,
    *,
    inp: CloudCoreDeployInput,
    task_queue: str,
    answer_timeout: float,
    details: Mapping[str, Any],
) -> Outcome[CloudCoreDeployProgress]:
    """How the deploy went, or goes so far (not finished: the rollout is still awaited).

    RunConflict (naming `details`) when another request's deploy is running.
    """
    run = RunStart(
        workflow=CLOUDCORE_DEPLOY_WORKFLOW,
        arg=inp,
        id=cloudcore_deploy_workflow_id(inp.target.namespace),
        summary=summaries.cloudcore_summary(inp.target.namespace),
        task_queue=task_queue,
        result_type=CloudCoreDeployProgress,
        progress_query=DEPLOY_PROGRESS_QUERY,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        execution_timeout=timedelta(seconds=inp.rollout_timeout_seconds) + SLACK,
    )
    started = await start_or_attach(client, run)
    if started.refused:  # a deploy is running: this request's to attach to, or a conflict
        running = await progress_of(started.handle, run)
        ensure_same_request(
            running,
            inp.fingerprint,
            message=f"A deploy of CloudCore {running.version} is running; wait for it",
            details={**details, "running_version": running.version},
        )
    try:
        return await outcome_within(started.handle, run, seconds=answer_timeout)
    except WorkflowFailureError as err:
        at_failure = failure_of(err, CloudCoreDeployProgress, type_=DEPLOY_FAILED)
        message = at_failure.message if at_failure else str(err.cause or err)
        raise DeployFailed(message, at_failure) from err
