"""BatchJoinWorkflow on the time-skipping server, with stand-in joins and store."""

from __future__ import annotations

import uuid

import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.support.helpers import eventually
from tests.workflows.join.stub_join import STARTS, StubJoin, stub_join_started
from workflows.contracts.join import (
    BATCH_CANCEL_SIGNAL,
    BATCH_PAUSE_SIGNAL,
    BATCH_PROGRESS_QUERY,
    BATCH_RESUME_SIGNAL,
    DEVICE_JOIN_WORKFLOW,
    BatchActivity,
    BatchDeviceResult,
    BatchDeviceSpec,
    BatchJoinDefaults,
    BatchJoinInput,
    BatchPage,
    BatchProgress,
    BatchResults,
    BatchStatus,
    CancelBatchJoinsInput,
    DeviceJoinInput,
    FinishBatchInput,
    LoadBatchPageInput,
    ReadBatchResultsInput,
    RecordBatchResultsInput,
)
from workflows.join import batch_join
from workflows.join.batch_join import BatchJoinWorkflow


class FakeBatchStore:
    def __init__(self, device_ids: list[str]) -> None:
        self.devices = [
            BatchDeviceSpec(position=i, device_id=d, node_name=f"node-{d}", fingerprint=f"fp-{d}")
            for i, d in enumerate(device_ids, start=1)
        ]
        self.results: dict[str, BatchDeviceResult] = {}
        self.finished: FinishBatchInput | None = None
        self.cancelled: list[str] = []
        self.reads = 0
        self.client: Client | None = None  # set: the finish asks the run its status
        self.status_while_finishing: list[BatchStatus] = []

    def activities(self) -> list[object]:
        @activity.defn(name=BatchActivity.LOAD_BATCH_PAGE)
        async def load(inp: LoadBatchPageInput) -> BatchPage:
            page = [d for d in self.devices if d.position > inp.after_position][: inp.limit]
            return BatchPage(devices=page)

        @activity.defn(name=BatchActivity.RECORD_BATCH_RESULTS)
        async def record(inp: RecordBatchResultsInput) -> None:
            for result in inp.results:
                assert result.device_id not in self.results, "a result recorded twice"
                self.results[result.device_id] = result

        @activity.defn(name=BatchActivity.READ_BATCH_RESULTS)
        async def read(inp: ReadBatchResultsInput) -> BatchResults:
            self.reads += 1
            found = [self.results[d] for d in inp.device_ids if d in self.results]
            return BatchResults(results=found)

        @activity.defn(name=BatchActivity.FINISH_BATCH)
        async def finish(inp: FinishBatchInput) -> None:
            self.finished = inp
            if self.client is not None:
                run = self.client.get_workflow_handle(activity.info().workflow_id)
                seen = await run.query(BATCH_PROGRESS_QUERY, result_type=BatchProgress)
                self.status_while_finishing.append(seen.status)

        @activity.defn(name=BatchActivity.CANCEL_BATCH_JOINS)
        async def cancel(inp: CancelBatchJoinsInput) -> int:
            self.cancelled = list(inp.in_flight)
            return len(inp.in_flight)

        return [load, record, read, finish, cancel, stub_join_started]


@pytest.fixture
async def queue(time_skipping_env: WorkflowEnvironment) -> str:
    STARTS.clear()
    return f"batch-{uuid.uuid4()}"


def batch_input(total: int, **options: int) -> BatchJoinInput:
    return BatchJoinInput(
        batch_id=f"b-{uuid.uuid4().hex[:8]}",
        total=total,
        defaults=BatchJoinDefaults(
            cloudcore_host="10.0.0.1", cloudcore_port=10000, token_ttl_seconds=3600
        ),
        # The batch's poll timers were seen to pass in real time on the test server
        # (stand-in joins still running): keep them short.
        result_poll_seconds=0.2,
        **options,  # type: ignore[arg-type]
    )


async def start(
    env: WorkflowEnvironment, queue: str, inp: BatchJoinInput
) -> WorkflowHandle[BatchJoinWorkflow, BatchProgress]:
    return await env.client.start_workflow(
        BatchJoinWorkflow.run, inp, id=f"batch-join/{inp.batch_id}", task_queue=queue
    )


def worker(env: WorkflowEnvironment, queue: str, store: FakeBatchStore) -> Worker:
    return Worker(
        env.client,
        task_queue=queue,
        workflows=[BatchJoinWorkflow, StubJoin],
        activities=store.activities(),
    )


async def test_window_joins_every_device_once_and_records_each_result(
    time_skipping_env: WorkflowEnvironment, queue: str
) -> None:
    tag = uuid.uuid4().hex[:6]
    ids = [f"{'bad' if i % 10 == 0 else 'dev'}-{tag}-{i:04d}" for i in range(1, 61)]
    store = FakeBatchStore(ids)
    async with worker(time_skipping_env, queue, store):
        handle = await start(
            time_skipping_env, queue, batch_input(len(ids), max_concurrency=20, page_size=25)
        )
        result = await handle.result()
    assert (result.status, result.total, result.done) == (BatchStatus.COMPLETED, 60, 60)
    assert (result.succeeded, result.failed) == (54, 6)
    assert set(store.results) == set(ids)
    assert store.results[f"bad-{tag}-0010"].failed_step == "create_configmap"
    assert store.finished is not None
    assert store.finished.succeeded == 54
    assert store.reads >= 1  # the joins wrote their results; the batch read them back
    assert set(STARTS) == set(ids)
    assert max(STARTS.values()) == 1


async def test_the_store_holds_the_end_before_the_run_reports_it(
    time_skipping_env: WorkflowEnvironment, queue: str
) -> None:
    # The API answers from the store once the run's query says the batch ended: the query
    # must not say so before the batch's row is finished.
    store = FakeBatchStore([f"dev-{uuid.uuid4().hex[:6]}-{i}" for i in range(3)])
    store.client = time_skipping_env.client
    async with worker(time_skipping_env, queue, store):
        result = await (await start(time_skipping_env, queue, batch_input(3))).result()
    assert result.status == BatchStatus.COMPLETED
    assert store.finished is not None
    assert store.finished.status == BatchStatus.COMPLETED
    assert store.status_while_finishing == [BatchStatus.RUNNING]


async def test_starts_joins_a_round_per_workflow_task(
    time_skipping_env: WorkflowEnvironment, queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each activation stays small however wide the window: 200 starts in one passed the
    # SDK's deadlock limit on a busy worker.
    monkeypatch.setattr(batch_join, "START_ROUND", 4)
    ids = [f"dev-{uuid.uuid4().hex[:6]}-{i:04d}" for i in range(1, 11)]
    store = FakeBatchStore(ids)
    async with worker(time_skipping_env, queue, store):
        handle = await start(time_skipping_env, queue, batch_input(len(ids), max_concurrency=10))
        result = await handle.result()
        history = await handle.fetch_history()
    assert result.done == 10
    rounds, starts = [], 0
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            rounds.append(starts)
            starts = 0
        elif event.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
            starts += 1
    rounds.append(starts)
    assert [r for r in rounds if r] == [4, 4, 2]


@pytest.mark.parametrize(
    "limit",
    [
        {"history_limit": 150},
        # Temporal refuses a run its 2,001st pending child; joins stay pending children.
        {"children_per_run": 20},
    ],
    ids=["history", "children"],
)
async def test_continues_as_new_without_joining_anything_twice(
    time_skipping_env: WorkflowEnvironment, queue: str, limit: dict[str, int]
) -> None:
    ids = [f"dev-{uuid.uuid4().hex[:6]}-{i:04d}" for i in range(1, 61)]
    store = FakeBatchStore(ids)
    async with worker(time_skipping_env, queue, store):
        inp = batch_input(len(ids), max_concurrency=15, page_size=20, **limit)
        handle = await start(time_skipping_env, queue, inp)
        result = await handle.result()
        first_run = await time_skipping_env.client.get_workflow_handle(
            handle.id, run_id=handle.first_execution_run_id
        ).describe()
    assert first_run.status is not None
    assert first_run.status.name == "CONTINUED_AS_NEW"
    assert (result.done, result.succeeded) == (60, 60)
    assert set(store.results) == set(ids)
    assert max(STARTS.values()) == 1


async def test_pause_holds_new_joins_until_resumed(
    time_skipping_env: WorkflowEnvironment, queue: str
) -> None:
    ids = [f"dev-{uuid.uuid4().hex[:6]}-{i:04d}" for i in range(1, 41)]
    store = FakeBatchStore(ids)
    async with worker(time_skipping_env, queue, store):
        inp = batch_input(len(ids), max_concurrency=5, page_size=10)
        inp = inp.model_copy(update={"state": inp.state.model_copy(update={"paused": True})})
        handle = await start(time_skipping_env, queue, inp)
        paused = await handle.query(BATCH_PROGRESS_QUERY, result_type=BatchProgress)
        assert paused.status == BatchStatus.PAUSED
        assert paused.done == 0
        await handle.signal(BATCH_PAUSE_SIGNAL)
        await handle.signal(BATCH_RESUME_SIGNAL)
        result = await handle.result()
    assert result.done == 40
    assert not STARTS.keys() - set(ids)


async def test_cancel_stops_starting_and_cancels_the_joins_in_flight(
    dev_env: WorkflowEnvironment, queue: str
) -> None:
    # On the dev server, not the time-skipping one (nothing here waits on time): under a
    # loaded full suite the time-skipping server once refused the batch's workflow task
    # right after the cancel ("invalid history builder state for action") and the run
    # never went on.
    ids = [f"slow-{uuid.uuid4().hex[:6]}-{i:04d}" for i in range(1, 101)]
    store = FakeBatchStore(ids)
    async with worker(dev_env, queue, store):
        handle = await start(dev_env, queue, batch_input(len(ids), max_concurrency=10))

        async def window_full() -> bool:
            progress = await handle.query(BATCH_PROGRESS_QUERY, result_type=BatchProgress)
            return progress.in_flight == 10

        await eventually(window_full)
        await handle.signal(BATCH_CANCEL_SIGNAL)
        result = await handle.result()
    assert result.status == BatchStatus.CANCELLED
    assert len(store.cancelled) == 10
    assert len(STARTS) == 10  # nothing started after the window filled
    assert store.finished is not None
    assert store.finished.status == BatchStatus.CANCELLED


async def test_device_with_an_existing_join_is_not_joined_again(
    time_skipping_env: WorkflowEnvironment, queue: str
) -> None:
    tag = uuid.uuid4().hex[:6]
    ids = [f"slow-{tag}", f"dev-{tag}"]
    store = FakeBatchStore(ids)
    async with worker(time_skipping_env, queue, store):
        existing = await time_skipping_env.client.start_workflow(
            DEVICE_JOIN_WORKFLOW,
            DeviceJoinInput(
                device_id=ids[0],
                node_name="n",
                cloudcore_host="10.0.0.1",
                cloudcore_port=10000,
                token_ttl_seconds=60,
                fingerprint="x",
            ),
            id=f"device-join/{ids[0]}",
            task_queue=queue,
        )
        handle = await start(time_skipping_env, queue, batch_input(len(ids)))
        result = await handle.result()
        await existing.cancel()
    assert (result.succeeded, result.failed) == (1, 1)
    assert store.results[ids[0]].failed_step == "start"
    assert "already has a join run" in (store.results[ids[0]].error or "")
