"""Start a CertificateRenewalWorkflow, and tell how one run goes.

One renewal per certificate at a time: the workflow ID is
`certificate-renewal/{namespace}/{name}`, its conflict policy refuses a second while one
runs (409), and a finished renewal does not hold the ID. A run is found again by its run
ID, which the status URL carries.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError

from api.core.runs import (
    PROGRESS_QUERY_TIMEOUT,
    RunStart,
    failure_of,
    is_not_found,
    start_or_attach,
)
from workflows.contracts import summaries
from workflows.contracts.certificates import (
    CERTIFICATE_RENEWAL_WORKFLOW,
    RENEWAL_PROGRESS_QUERY,
    CertificateRenewalInput,
    RenewalProgress,
    certificate_renewal_workflow_id,
)
from workflows.contracts.common import RENEWAL_FAILED

# The rollout wait plus a restore with patient retries.
SLACK = timedelta(hours=2)


class RenewalRunning(Exception):
    """Another renewal of this certificate holds its workflow ID."""

    def __init__(self, progress: RenewalProgress | None) -> None:
        super().__init__("a renewal is running")
        self.progress = progress


async def start_renewal(client: Client, *, inp: CertificateRenewalInput, task_queue: str) -> str:
    """The new run's ID; RenewalRunning when one runs already."""
    run = RunStart(
        workflow=CERTIFICATE_RENEWAL_WORKFLOW,
        arg=inp,
        id=certificate_renewal_workflow_id(inp.namespace, inp.name),
        summary=summaries.certificate_renewal_summary(inp.name, inp.namespace),
        task_queue=task_queue,
        result_type=RenewalProgress,
        progress_query=RENEWAL_PROGRESS_QUERY,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        execution_timeout=timedelta(seconds=inp.rollout_timeout_seconds) + SLACK,
    )
    started = await start_or_attach(client, run)
    if started.refused:
        try:
            progress = await started.handle.query(
                RENEWAL_PROGRESS_QUERY, result_type=RenewalProgress
            )
        except RPCError:
            progress = None  # it ended meanwhile, or the worker is slow: still a conflict
        raise RenewalRunning(progress)
    return str(started.handle.result_run_id)


async def renewal_run(
    client: Client,
    *,
    namespace: str,
    name: str,
    run_id: str,
    query_timeout: timedelta = PROGRESS_QUERY_TIMEOUT,
) -> tuple[WorkflowExecutionStatus | None, RenewalProgress | None]:
    """One renewal run's state and progress: (None, None) when there is no such run."""
    handle = client.get_workflow_handle(
        certificate_renewal_workflow_id(namespace, name), run_id=run_id, result_type=RenewalProgress
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
            return status, failure_of(err, RenewalProgress, type_=RENEWAL_FAILED)
    if status != WorkflowExecutionStatus.RUNNING:
        return status, None  # terminated, cancelled, timed out: nothing more to say
    try:
        progress: RenewalProgress = await handle.query(
            RENEWAL_PROGRESS_QUERY, result_type=RenewalProgress, rpc_timeout=query_timeout
        )
    except RPCError:
        # Running is known; how far it got is not (a busy worker, or it closed meanwhile).
        return status, None
    return status, progress
