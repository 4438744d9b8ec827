"""AuditRetentionWorkflow: delete the audit events older than the retention, once.

A Temporal Schedule (`audit-retention`, workers.audit) starts one run an hour, so each
pruning is a run in the Web UI with the cutoff and the count as its result. The work is
one activity in one transaction; a repeated run finds nothing more to delete.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

from workflows.contracts.audit import (
    AUDIT_RETENTION_WORKFLOW,
    AuditRetentionInput,
    AuditRetentionResult,
    prune_audit_log,
)

TIMEOUT = timedelta(minutes=10)
RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30), maximum_attempts=3)


@workflow.defn(name=AUDIT_RETENTION_WORKFLOW)
class AuditRetentionWorkflow:
    @workflow.run
    async def run(self, inp: AuditRetentionInput) -> AuditRetentionResult:
        return await workflow.execute_activity(
            prune_audit_log, inp, start_to_close_timeout=TIMEOUT, retry_policy=RETRY
        )
