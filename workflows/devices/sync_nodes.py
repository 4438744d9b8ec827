"""SyncNodesWorkflow: keep the store's node facts fresh, one round every interval.

One long-lived run per Temporal namespace (ID `sync-nodes`, started by every worker with
"use the existing run"), rather than a Schedule: a round every 30 s as separate runs would
fill the Web UI with thousands of one-activity runs a day. The `sync_now` signal starts a
round at once. After `rounds_per_run` rounds it continues as new, keeping history short.
A failed round is logged and the next one tries again: stale facts beat no sync at all.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from workflows.contracts import summaries
from workflows.contracts.devices import (
    SYNC_LAST_QUERY,
    SYNC_NODES_WORKFLOW,
    SYNC_NOW_SIGNAL,
    SyncClusterInput,
    SyncNodesInput,
    SyncSummary,
    sync_cluster,
)

ROUND_TIMEOUT = timedelta(minutes=10)
HEARTBEAT = timedelta(minutes=1)
RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30), maximum_attempts=3)


@workflow.defn(name=SYNC_NODES_WORKFLOW)
class SyncNodesWorkflow:
    def __init__(self) -> None:
        self._wake = False
        self._last: SyncSummary | None = None

    @workflow.run
    async def run(self, inp: SyncNodesInput) -> None:
        request = SyncClusterInput(
            kubeedge_namespace=inp.kubeedge_namespace, page_size=inp.page_size
        )
        for _ in range(inp.rounds_per_run):
            self._wake = False
            try:
                self._last = await workflow.execute_activity(
                    sync_cluster,
                    request,
                    summary=summaries.activity_summary(sync_cluster, request),
                    start_to_close_timeout=ROUND_TIMEOUT,
                    heartbeat_timeout=HEARTBEAT,
                    retry_policy=RETRY,
                )
            except ActivityError as err:
                workflow.logger.warning("node sync round failed: %s", err.cause or err)
            with contextlib.suppress(TimeoutError):  # the interval passed: next round
                await workflow.wait_condition(
                    lambda: self._wake, timeout=timedelta(seconds=inp.interval_seconds)
                )
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(inp)

    @workflow.signal(name=SYNC_NOW_SIGNAL)
    def sync_now(self) -> None:
        self._wake = True

    @workflow.query(name=SYNC_LAST_QUERY)
    def last_sync(self) -> SyncSummary | None:
        return self._last
