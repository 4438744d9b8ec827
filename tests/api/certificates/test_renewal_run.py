"""A renewal's status while no worker answers its query: running, progress unknown."""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from api.certificates.service import renewal_run
from workflows.contracts.certificates import (
    CERTIFICATE_RENEWAL_WORKFLOW,
    CertificateRenewalInput,
    certificate_renewal_workflow_id,
)


async def test_a_run_whose_worker_does_not_answer_is_running_without_progress(
    dev_env: WorkflowEnvironment,
) -> None:
    namespace = f"kubeedge-{uuid.uuid4().hex[:8]}"
    inp = CertificateRenewalInput(
        namespace=namespace, requested_by="admin", rollout_timeout_seconds=15
    )
    # No worker polls this queue, so the run's query cannot be answered.
    handle = await dev_env.client.start_workflow(
        CERTIFICATE_RENEWAL_WORKFLOW,
        inp,
        id=certificate_renewal_workflow_id(namespace, inp.name),
        task_queue=f"nobody-{uuid.uuid4()}",
    )
    try:
        state, progress = await renewal_run(
            dev_env.client,
            namespace=namespace,
            name=inp.name,
            run_id=handle.result_run_id or "",
            query_timeout=timedelta(seconds=0.5),
        )
        assert (state, progress) == (WorkflowExecutionStatus.RUNNING, None)
    finally:
        await handle.terminate()
