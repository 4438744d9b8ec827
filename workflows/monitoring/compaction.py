"""MetricsCompactionWorkflow: roll metric samples up and apply retention, once.

A Temporal Schedule (`metrics-compaction`, workers.monitoring) starts one run every
interval, so each compaction is a run in the Web UI with what it wrote and pruned as its
result. The work is one activity in one transaction; a retried or repeated run
recomputes the same buckets to the same rows.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

from workflows.contracts.monitoring import (
    METRICS_COMPACTION_WORKFLOW,
    CompactionInput,
    CompactionResult,
    compact_metrics,
)

TIMEOUT = timedelta(minutes=10)
RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30), maximum_attempts=3)


@workflow.defn(name=METRICS_COMPACTION_WORKFLOW)
class MetricsCompactionWorkflow:
    @workflow.run
    async def run(self, inp: CompactionInput) -> CompactionResult:
        return await workflow.execute_activity(
            compact_metrics, inp, start_to_close_timeout=TIMEOUT, retry_policy=RETRY
        )
