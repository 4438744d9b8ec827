"""BatchJoinWorkflow: join thousands of devices through a sliding window of DeviceJoins.

The device list lives in the store (pages are loaded as the window needs them), so a
10,000-device batch never sits in one payload. Each device is its own child
`device-join/{device_id}`, visible and compensated on its own. The child writes its
result in the batch's rows once its provisioning is done or has failed, and the batch
reads the results of the joins in flight every `result_poll_seconds`, so it never waits
for nodes to turn Ready. The batch continues as new well before Temporal's history
limits; children still in flight carry over by device ID.

A worker replays a batch's run whenever the run left its cache or a task failed, under
the SDK's 2-second limit per activation and the run's 30-s workflow task: so the batch
starts its joins a round (START_ROUND) per workflow task, and a run starts at most
`children_per_run` (200) joins, about 500 events (docs/scaling.md, "Worker memory").
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

# Shared, immutable models: imported once, not again inside every run's sandbox.
with workflow.unsafe.imports_passed_through():
    from workflows.contracts import summaries
    from workflows.contracts.common import BATCH_ID, DEVICE_ID, NODE_NAME, STAGE
    from workflows.contracts.join import (
        BATCH_CANCEL_SIGNAL,
        BATCH_JOIN_WORKFLOW,
        BATCH_PAUSE_SIGNAL,
        BATCH_PROGRESS_QUERY,
        BATCH_RESUME_SIGNAL,
        BATCH_TASK_TIMEOUT,
        DEVICE_JOIN_WORKFLOW,
        BatchDeviceResult,
        BatchDeviceSpec,
        BatchJoinInput,
        BatchPage,
        BatchProgress,
        BatchResults,
        BatchState,
        BatchStatus,
        CancelBatchJoinsInput,
        DeviceJoinInput,
        FinishBatchInput,
        JoinStatus,
        LoadBatchPageInput,
        ReadBatchResultsInput,
        RecordBatchResultsInput,
        cancel_batch_joins,
        device_join_workflow_id,
        finish_batch,
        load_batch_page,
        read_batch_results,
        record_batch_results,
    )

STORE_TIMEOUT = timedelta(seconds=60)
STORE_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30))
CHILD_TASK_TIMEOUT = timedelta(seconds=30)
# Results are written in chunks: one store round trip per this many devices.
FLUSH_EVERY = 100
# Joins started per workflow task. Each start builds the join's input and search
# attributes in the activation: 200 at once took more than the SDK's 2-second deadlock
# limit on a CPU-starved worker, and every retry replayed the run into the same wall.
START_ROUND = 25
# Runs without this marker started all of a round's joins in one workflow task.
START_ROUNDS_PATCH = "batch-start-rounds"

ArgT = TypeVar("ArgT")
ResultT = TypeVar("ResultT")


# Outside the sandbox, like DeviceJoinWorkflow (see there why): a batch wakes once per
# device it hears from.
@workflow.defn(name=BATCH_JOIN_WORKFLOW, sandboxed=False)
class BatchJoinWorkflow:
    @workflow.init
    def __init__(self, inp: BatchJoinInput) -> None:
        self._inp = inp
        state = inp.state
        self._cursor = state.cursor
        self._succeeded = state.succeeded
        self._failed = state.failed
        self._in_flight: set[str] = set(state.in_flight)
        self._paused = state.paused
        self._cancel_requested = state.cancel_requested
        self._started_at = state.started_at
        self._queue: list[BatchDeviceSpec] = []
        self._unrecorded: list[BatchDeviceResult] = []
        self._status = BatchStatus.RUNNING
        self._started_in_run = 0
        self._start_round = 0  # set by run(): START_ROUND, or 0 for all at once

    @workflow.run
    async def run(self, inp: BatchJoinInput) -> BatchProgress:
        if self._started_at is None:
            self._started_at = workflow.now()
        if workflow.patched(START_ROUNDS_PATCH):
            self._start_round = START_ROUND
        workflow.upsert_search_attributes(
            [BATCH_ID.value_set(inp.batch_id), STAGE.value_set("joining")]
        )
        # Joins write their results in the store and the batch reads them: a signal per
        # device cost the join a second workflow task and the batch an event and a
        # wake-up, a third of the server's work per join (bench/batch_join.py).
        while not self._finished():
            if self._cancel_requested:
                break
            if not self._paused:
                await self._fill_window()
            await self._poll_results()
            # Shown on the run's page in the Temporal UI; not part of its history.
            workflow.set_current_details(summaries.batch_details(self.progress()))
            if len(self._unrecorded) >= FLUSH_EVERY or self._finished():
                await self._flush()
            if self._run_is_full():
                await self._flush()
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    inp.model_copy(update={"state": self._state()}),
                    task_timeout=BATCH_TASK_TIMEOUT,
                )
        await self._flush()
        if self._cancel_requested:
            await self._cancel_joins()
        final = BatchStatus.CANCELLED if self._cancel_requested else BatchStatus.COMPLETED
        workflow.upsert_search_attributes([STAGE.value_set(final.value)])
        finish = FinishBatchInput(
            batch_id=inp.batch_id,
            status=final,
            succeeded=self._succeeded,
            failed=self._failed,
        )
        await self._store(finish_batch, finish)
        # Only now does the query say it ended: a reader that sees it final finds the
        # store's batch row final too (its finished_at). Commands are as before.
        self._status = final
        workflow.set_current_details(summaries.batch_details(self.progress()))
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.progress()

    # --- messages ------------------------------------------------------------------

    @workflow.query(name=BATCH_PROGRESS_QUERY)
    def progress(self) -> BatchProgress:
        done = self._succeeded + self._failed
        rate = eta = None
        if self._started_at is not None and done:
            minutes = (workflow.now() - self._started_at).total_seconds() / 60
            if minutes > 0:
                rate = round(done / minutes, 1)
                eta = round((self._inp.total - done) / rate * 60, 1)
        status = self._status
        if status == BatchStatus.RUNNING and self._cancel_requested:
            status = BatchStatus.CANCELLING
        elif status == BatchStatus.RUNNING and self._paused:
            status = BatchStatus.PAUSED
        return BatchProgress(
            batch_id=self._inp.batch_id,
            status=status,
            total=self._inp.total,
            done=done,
            succeeded=self._succeeded,
            failed=self._failed,
            in_flight=len(self._in_flight),
            rate_per_minute=rate,
            eta_seconds=eta,
        )

    @workflow.signal(name=BATCH_PAUSE_SIGNAL)
    def pause(self) -> None:
        self._paused = True

    @workflow.signal(name=BATCH_RESUME_SIGNAL)
    def resume(self) -> None:
        self._paused = False

    @workflow.signal(name=BATCH_CANCEL_SIGNAL)
    def cancel(self) -> None:
        self._cancel_requested = True

    # --- the window ------------------------------------------------------------------

    def _finished(self) -> bool:
        return self._succeeded + self._failed >= self._inp.total

    def _should_wake(self) -> bool:
        room = len(self._in_flight) < self._inp.max_concurrency and self._more_to_start()
        return (
            self._cancel_requested
            or self._finished()
            or len(self._unrecorded) >= FLUSH_EVERY
            or (room and not self._paused)
            or (self._paused and not self._in_flight and bool(self._unrecorded))
        )

    async def _poll_results(self) -> None:
        """Wait for a reason to look (or the poll interval), then read finished joins."""
        if self._in_flight:
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    self._should_wake, timeout=self._inp.result_poll_seconds
                )
        else:
            # Nothing running: only a resume, a cancel or room for more can change anything.
            await workflow.wait_condition(self._should_wake)
        if not self._in_flight:
            return
        read = ReadBatchResultsInput(
            batch_id=self._inp.batch_id, device_ids=sorted(self._in_flight)
        )
        found: BatchResults = await workflow.execute_local_activity(
            read_batch_results,
            read,
            summary=summaries.activity_summary(read_batch_results, read),
            start_to_close_timeout=STORE_TIMEOUT,
            retry_policy=STORE_RETRY,
        )
        for result in found.results:
            if result.device_id in self._in_flight:
                self._in_flight.discard(result.device_id)
                self._count(result)

    def _run_is_full(self) -> bool:
        """Time to continue as new: a long history, or as many joins started as a run may
        hold (a join stays a pending child until its node joins)."""
        if workflow.info().get_current_history_length() > self._inp.history_limit:
            return True
        return self._started_in_run >= self._inp.children_per_run

    def _more_to_start(self) -> bool:
        # Positions count from 1; the cursor is the last position loaded from the store.
        return bool(self._queue) or self._cursor < self._inp.total

    async def _fill_window(self) -> None:
        starts: list[BatchDeviceSpec] = []
        room = min(
            self._inp.max_concurrency,
            len(self._in_flight) + self._inp.children_per_run - self._started_in_run,
        )
        while len(self._in_flight) + len(starts) < room:
            if not self._queue and not await self._load_page():
                break
            starts.append(self._queue.pop(0))
        # A workflow task issues up to a round of start commands at once; the next
        # round goes out once the server has answered this one.
        size = self._start_round or len(starts) or 1
        for first in range(0, len(starts), size):
            await asyncio.gather(*(self._start_join(spec) for spec in starts[first : first + size]))

    async def _load_page(self) -> bool:
        if self._cursor >= self._inp.total:
            return False
        page_input = LoadBatchPageInput(
            batch_id=self._inp.batch_id, after_position=self._cursor, limit=self._inp.page_size
        )
        page: BatchPage = await self._store(load_batch_page, page_input)
        if not page.devices:
            # The store holds fewer devices than announced: count the rest as done.
            self._cursor = self._inp.total
            return False
        self._cursor = page.devices[-1].position
        self._queue.extend(page.devices)
        return True

    async def _start_join(self, spec: BatchDeviceSpec) -> None:
        defaults = self._inp.defaults
        join = DeviceJoinInput(
            device_id=spec.device_id,
            node_name=spec.node_name,
            cloudcore_host=defaults.cloudcore_host,
            cloudcore_port=defaults.cloudcore_port,
            device_type=spec.device_type,
            location=spec.location,
            configuration=spec.configuration,
            token_ttl_seconds=defaults.token_ttl_seconds,
            kubeedge_version=defaults.kubeedge_version,
            kubeedge_namespace=defaults.kubeedge_namespace,
            device_namespace=defaults.device_namespace,
            fingerprint=spec.fingerprint,
            batch_id=self._inp.batch_id,
            node_poll_initial_seconds=self._inp.node_poll_initial_seconds,
            node_poll_max_seconds=self._inp.node_poll_max_seconds,
        )
        self._in_flight.add(spec.device_id)
        self._started_in_run += 1
        try:
            await workflow.start_child_workflow(
                DEVICE_JOIN_WORKFLOW,
                join,
                id=device_join_workflow_id(spec.device_id),
                static_summary=summaries.join_summary(spec.device_id, spec.node_name),
                # Joins outlive the batch: they wait for their node after provisioning.
                parent_close_policy=ParentClosePolicy.ABANDON,
                # Room for the local steps when the worker is busy with a full window.
                task_timeout=CHILD_TASK_TIMEOUT,
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(DEVICE_ID, spec.device_id),
                        SearchAttributePair(NODE_NAME, spec.node_name),
                        SearchAttributePair(BATCH_ID, self._inp.batch_id),
                        SearchAttributePair(STAGE, JoinStatus.PROVISIONING.value),
                    ]
                ),
            )
        except WorkflowAlreadyStartedError:
            # Another join of this device exists (running, or joined before): never a
            # second one. The device counts as failed in this batch, with the reason.
            existing = device_join_workflow_id(spec.device_id)
            self._in_flight.discard(spec.device_id)
            self._started_in_run -= 1  # no child of this run
            self._record(
                BatchDeviceResult(
                    device_id=spec.device_id,
                    succeeded=False,
                    failed_step="start",
                    error=f"device already has a join run ({existing})",
                )
            )

    def _record(self, result: BatchDeviceResult) -> None:
        """Count a result the store does not hold yet; it is written with the next flush."""
        self._count(result)
        self._unrecorded.append(result)

    def _count(self, result: BatchDeviceResult) -> None:
        if result.succeeded:
            self._succeeded += 1
        else:
            self._failed += 1

    async def _flush(self) -> None:
        while self._unrecorded:
            chunk, self._unrecorded = self._unrecorded[:500], self._unrecorded[500:]
            record = RecordBatchResultsInput(batch_id=self._inp.batch_id, results=chunk)
            await self._store(record_batch_results, record)

    async def _cancel_joins(self) -> None:
        self._status = BatchStatus.CANCELLING
        workflow.upsert_search_attributes([STAGE.value_set(BatchStatus.CANCELLING.value)])
        cancel = CancelBatchJoinsInput(
            batch_id=self._inp.batch_id, in_flight=sorted(self._in_flight)
        )
        await workflow.execute_activity(
            cancel_batch_joins,
            cancel,
            summary=summaries.activity_summary(cancel_batch_joins, cancel),
            start_to_close_timeout=timedelta(minutes=30),
            heartbeat_timeout=timedelta(minutes=1),
            retry_policy=STORE_RETRY,
        )

    def _state(self) -> BatchState:
        return BatchState(
            # Loaded but not started devices are loaded again by the next run.
            cursor=self._queue[0].position - 1 if self._queue else self._cursor,
            succeeded=self._succeeded,
            failed=self._failed,
            in_flight=sorted(self._in_flight),
            paused=self._paused,
            cancel_requested=self._cancel_requested,
            started_at=self._started_at,
        )

    async def _store(self, stub: Callable[[ArgT], Awaitable[ResultT]], arg: ArgT) -> ResultT:
        return await workflow.execute_activity(
            stub,
            arg,
            summary=summaries.activity_summary(stub, arg),
            start_to_close_timeout=STORE_TIMEOUT,
            retry_policy=STORE_RETRY,
        )
