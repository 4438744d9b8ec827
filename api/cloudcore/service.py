"""Start (or attach to) a CloudCoreDeployWorkflow and hear how it goes, within a deadline.

One deploy per namespace at a time: the workflow ID is `cloudcore-deploy/{namespace}`.
The same request while one runs attaches to it; another request is a conflict. A
finished deploy does not hold the ID: deploying again starts a new run. Every call to
Temporal here shares one deadline, the answer timeout, so no request is held longer: what
the run has not said by then, the status URL (a run, by its run ID) tells later.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError

from api.core.errors import ApiError
from api.core.runs import (
    RunStart,
    ensure_same_request,
    failure_of,
    is_not_found,
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
# Of the answer timeout, what is kept for asking a run still going how it goes.
QUERY_SHARE = 0.2
QUERY_RESERVE_MAX = 2.0


class DeployFailed(Exception):
    def __init__(self, message: str, progress: CloudCoreDeployProgress | None) -> None:
        super().__init__(message)
        self.progress = progress


@dataclass(frozen=True)
class DeployOutcome:
    run_id: str
    finished: bool
    # What the run says; None when it did not say within the deadline (it goes on).
    progress: CloudCoreDeployProgress | None


def _run_start(inp: CloudCoreDeployInput, task_queue: str) -> RunStart[CloudCoreDeployProgress]:
    return RunStart(
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


async def deploy_cloudcore(
    client: Client,
    *,
    inp: CloudCoreDeployInput,
    task_queue: str,
    answer_timeout: float,
    details: Mapping[str, Any],
) -> DeployOutcome:
    """How the deploy went, or goes so far, as known within `answer_timeout` seconds.

    RunConflict (naming `details`) when another request's deploy is running; DeployFailed
    when it failed; a 503 to retry when Temporal did not even start or find the run in time.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + answer_timeout
    reserve = min(answer_timeout * QUERY_SHARE, QUERY_RESERVE_MAX)
    run = _run_start(inp, task_queue)
    try:
        async with asyncio.timeout_at(deadline - reserve):
            started = await start_or_attach(client, run)
            handle = started.handle
            if started.refused:  # a deploy is running: this request's to attach to, or not
                running = await progress_of(handle, run)
                ensure_same_request(
                    running,
                    inp.fingerprint,
                    message=f"A deploy of CloudCore {running.version} is running; wait for it",
                    details={**details, "running_version": running.version},
                )
                run_id = (await handle.describe()).run_id
            else:
                run_id = str(handle.result_run_id)
    except TimeoutError:
        raise ApiError(
            503,
            "Temporal did not start or find the deploy in time; retry (the same body attaches)",
            details=details,
            headers={"Retry-After": "5"},
        ) from None
    try:
        async with asyncio.timeout_at(deadline - reserve):
            return DeployOutcome(run_id, True, await handle.result())
    except TimeoutError:
        pass
    except WorkflowFailureError as err:
        at_failure = failure_of(err, CloudCoreDeployProgress, type_=DEPLOY_FAILED)
        message = at_failure.message if at_failure else str(err.cause or err)
        raise DeployFailed(message, at_failure) from err
    try:
        async with asyncio.timeout_at(deadline):
            return DeployOutcome(run_id, False, await progress_of(handle, run))
    except (TimeoutError, RPCError):  # the run goes on; its status URL will tell
        return DeployOutcome(run_id, False, None)


async def deploy_run(
    client: Client, *, namespace: str, run_id: str
) -> tuple[WorkflowExecutionStatus | None, CloudCoreDeployProgress | None]:
    """One deploy run's state and progress: (None, None) when there is no such run."""
    handle = client.get_workflow_handle(
        cloudcore_deploy_workflow_id(namespace),
        run_id=run_id,
        result_type=CloudCoreDeployProgress,
    )
    try:
        status = (await handle.describe()).status
    except RPCError as err:
        if is_not_found(err):
            return None, None
        raise
    if status == WorkflowExecutionStatus.COMPLETED:
        return status, await handle.result()
    if status == WorkflowExecutionStatus.FAILED:
        try:
            await handle.result()
        except WorkflowFailureError as err:
            return status, failure_of(err, CloudCoreDeployProgress, type_=DEPLOY_FAILED)
    progress: CloudCoreDeployProgress = await handle.query(
        DEPLOY_PROGRESS_QUERY, result_type=CloudCoreDeployProgress
    )
    return status, progress
