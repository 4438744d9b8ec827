"""WorkloadRolloutWorkflow and WorkloadRemovalWorkflow on the time-skipping server, with
stand-in activities registered under the real names."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.support.helpers import eventually
from workflows.contracts.workloads import (
    ROLLOUT_ABORT_SIGNAL,
    ROLLOUT_PAUSE_SIGNAL,
    ROLLOUT_PROGRESS_QUERY,
    ROLLOUT_RESUME_SIGNAL,
    ROLLOUT_SUPERSEDE_SIGNAL,
    ApplyWaveInput,
    GateInput,
    NodeOutcome,
    NodeSetOutcome,
    PriorObjects,
    PriorsInput,
    RecordRolloutInput,
    RevisionRef,
    RollbackInput,
    RolloutInput,
    RolloutProgress,
    RolloutState,
    RolloutStrategy,
    TargetsInput,
    WaveResult,
    WorkloadActivity,
    WorkloadMode,
    WorkloadRef,
    WorkloadRemovalInput,
    WorkloadSpec,
    rollout_workflow_id,
    workload_removal_workflow_id,
)
from workflows.workloads.removal import WorkloadRemovalWorkflow
from workflows.workloads.rollout import NO_MATCH, WorkloadRolloutWorkflow

NODES = [f"edge-{n:02d}" for n in range(10)]
SPEC_V1 = WorkloadSpec(name="web", namespace="apps", image="nginx:1.26")
SPEC_V2 = SPEC_V1.model_copy(update={"image": "nginx:1.27"})
# canary 1, then ceil(25% of 10) = 3: waves [1, 3, 3, 3]
STRATEGY = RolloutStrategy(canary_nodes=1, wave_percent=25)


class Fakes:
    """Stand-ins that record their calls; the gate can be held per wave."""

    def __init__(self) -> None:
        self.targets = list(NODES)
        self.priors = PriorObjects(revisions=dict.fromkeys(NODES[:5], 1), specs={1: SPEC_V1})
        self.failing: dict[str, str] = {}  # node -> why the gate fails it
        self.gate_error: str | None = None
        self.held: set[int] = set()  # waves whose gate waits for `release`
        self.release = asyncio.Event()
        self.gating: set[int] = set()
        self.applied: list[list[str]] = []
        self.rolled_back: list[list[str | int | None]] = []
        self.records: list[RecordRolloutInput] = []
        self.deleted_objects: list[str] = []
        self.deleted_records: list[str] = []
        self.running: list[str] = []
        self.client: Client | None = None  # set: the final record asks the run its state
        self.state_while_recorded_final: list[RolloutState] = []

    def all(self) -> list[Any]:
        @activity.defn(name=WorkloadActivity.DETECT_MODE)
        async def detect_mode() -> WorkloadMode:
            return WorkloadMode.DEPLOYMENT

        @activity.defn(name=WorkloadActivity.LIST_TARGETS)
        async def list_targets(inp: TargetsInput) -> list[str]:
            return list(self.targets)

        @activity.defn(name=WorkloadActivity.READ_PRIORS)
        async def read_priors(inp: PriorsInput) -> PriorObjects:
            wanted = set(inp.nodes)
            revisions = {n: r for n, r in self.priors.revisions.items() if n in wanted}
            return PriorObjects(revisions=revisions, specs={})  # specs come from the store

        @activity.defn(name=WorkloadActivity.LOAD_REVISION)
        async def load_revision(ref: RevisionRef) -> WorkloadSpec | None:
            return self.priors.specs.get(ref.revision)

        @activity.defn(name=WorkloadActivity.APPLY_WAVE)
        async def apply_wave(inp: ApplyWaveInput) -> NodeSetOutcome:
            self.applied.append(list(inp.nodes))
            return NodeSetOutcome(done=list(inp.nodes))

        @activity.defn(name=WorkloadActivity.GATE_WAVE)
        async def gate_wave(inp: GateInput) -> WaveResult:
            self.gating.add(inp.index)
            if inp.index in self.held:
                while not self.release.is_set():  # heartbeats carry the cancellation
                    activity.heartbeat()
                    await asyncio.sleep(0.05)
            if self.gate_error is not None:
                raise ApplicationError(self.gate_error, non_retryable=True)
            failed = {node: self.failing[node] for node in inp.nodes if node in self.failing}
            ready = [node for node in inp.nodes if node not in failed]
            return WaveResult(index=inp.index, ready=ready, failed=failed)

        @activity.defn(name=WorkloadActivity.ROLL_BACK)
        async def roll_back(inp: RollbackInput) -> NodeSetOutcome:
            self.rolled_back.append([prior.node_name for prior in inp.priors])
            for prior in inp.priors:
                assert (prior.spec is None) == (prior.revision is None)
            return NodeSetOutcome(done=[prior.node_name for prior in inp.priors])

        @activity.defn(name=WorkloadActivity.RECORD_ROLLOUT)
        async def record_rollout(inp: RecordRolloutInput) -> None:
            self.records.append(inp)
            if self.client is not None and inp.progress.state.final:
                run = self.client.get_workflow_handle(activity.info().workflow_id)
                seen = await run.query(ROLLOUT_PROGRESS_QUERY, result_type=RolloutProgress)
                self.state_while_recorded_final.append(seen.state)

        @activity.defn(name=WorkloadActivity.RUNNING_ROLLOUTS)
        async def running_rollouts(ref: WorkloadRef) -> list[str]:
            return list(self.running)

        @activity.defn(name=WorkloadActivity.DELETE_OBJECTS)
        async def delete_objects(inp: WorkloadRemovalInput) -> list[str]:
            self.deleted_objects.append(inp.workload_id)
            return [f"Deployment {inp.namespace}/web-{node}" for node in NODES]

        @activity.defn(name=WorkloadActivity.DELETE_RECORDS)
        async def delete_records(ref: WorkloadRef) -> None:
            self.deleted_records.append(ref.workload_id)

        return [
            detect_mode,
            list_targets,
            read_priors,
            load_revision,
            apply_wave,
            gate_wave,
            roll_back,
            record_rollout,
            running_rollouts,
            delete_objects,
            delete_records,
        ]


@pytest.fixture
def fakes() -> Fakes:
    return Fakes()


@pytest.fixture
async def task_queue(time_skipping_env: WorkflowEnvironment, fakes: Fakes) -> AsyncIterator[str]:
    queue = f"rollouts-{uuid.uuid4()}"
    async with Worker(
        time_skipping_env.client,
        task_queue=queue,
        workflows=[WorkloadRolloutWorkflow, WorkloadRemovalWorkflow],
        activities=fakes.all(),
    ):
        yield queue


def rollout(**changes: Any) -> RolloutInput:
    values: dict[str, Any] = {
        "workload_id": str(uuid.uuid4()),
        "revision": 2,
        "spec": SPEC_V2,
        "strategy": STRATEGY,
        "rollout_id": str(uuid.uuid4()),
        **changes,
    }
    return RolloutInput.model_validate(values)


async def start(
    env: WorkflowEnvironment, queue: str, inp: RolloutInput
) -> WorkflowHandle[WorkloadRolloutWorkflow, RolloutProgress]:
    return await env.client.start_workflow(
        WorkloadRolloutWorkflow.run,
        inp,
        id=rollout_workflow_id(inp.workload_id, inp.revision),
        task_queue=queue,
    )


def waves_of(nodes: list[str]) -> list[list[str]]:
    return [nodes[:1], nodes[1:4], nodes[4:7], nodes[7:10]]


async def test_all_waves_complete(
    time_skipping_env: WorkflowEnvironment, task_queue: str, fakes: Fakes
) -> None:
    done = await (await start(time_skipping_env, task_queue, rollout())).result()
    assert done.state is RolloutState.COMPLETED
    assert (done.total_nodes, done.waves_total, done.waves_done) == (10, 4, 4)
    assert (done.nodes_ready, done.nodes_failed) == (10, 0)
    assert fakes.applied == waves_of(NODES)
    assert fakes.rolled_back == []
    assert done.finished_at is not None
    # The first record carries the strategy, a later one the resolved targets; the last is final.
    assert fakes.records[0].strategy == STRATEGY
    assert any(record.target_nodes == NODES for record in fakes.records)
    assert fakes.records[-1].progress.state is RolloutState.COMPLETED
    ready = {n.node_name for r in fakes.records for n in r.nodes if n.state is NodeOutcome.READY}
    assert ready == set(NODES)


async def test_the_store_holds_the_outcome_before_the_run_reports_it(
    time_skipping_env: WorkflowEnvironment, task_queue: str, fakes: Fakes
) -> None:
    # The API reads the store (workload status, deployed revision) once the run's query
    # says final: the query must not say so before the final record is written.
    fakes.client = time_skipping_env.client
    done = await (await start(time_skipping_env, task_queue, rollout())).result()
    assert done.state is RolloutState.COMPLETED
    assert fakes.records[-1].progress.state is RolloutState.COMPLETED
    assert fakes.state_while_recorded_final == [RolloutState.RUNNING]


async def test_a_failed_gate_rolls_back_exactly_the_applied_waves_in_reverse(
    time_skipping_env: WorkflowEnvironment, task_queue: str, fakes: Fakes
) -> None:
    fakes.failing = {NODES[5]: "CrashLoopBackOff"}  # in the third wave
    done = await (await start(time_skipping_env, task_queue, rollout())).result()
    assert done.state is RolloutState.ROLLED_BACK
    assert fakes.applied == waves_of(NODES)[:3]
    assert fakes.rolled_back == list(reversed(waves_of(NODES)[:3]))
    assert done.rolled_back == [node for wave in reversed(waves_of(NODES)[:3]) for node in wave]
    assert done.failures == {NODES[5]: "CrashLoopBackOff"}
    assert done.abort_reason is not None
    assert "abort threshold of 0%" in done.abort_reason
    # Rolled-back nodes go back to revision 1 where they ran it, and lose the workload elsewhere.
    rolled = {
        n.node_name: n.revision
        for r in fakes.records
        for n in r.nodes
        if n.state is NodeOutcome.ROLLED_BACK
    }
    assert rolled == {node: (1 if node in NODES[:5] else None) for node in NODES[:7]}


async def test_failures_below_the_threshold_are_tolerated(
    time_skipping_env: WorkflowEnvironment, task_queue: str, fakes: Fakes
) -> None:
    fakes.failing = {NODES[2]: "ImagePullBackOff"}  # 1 of 4 applied after wave 1: 25%
    strategy = STRATEGY.model_copy(update={"abort_threshold_percent": 30.0})
    done = await (await start(time_skipping_env, task_queue, rollout(strategy=strategy))).result()
    assert done.state is RolloutState.COMPLETED
    assert (done.nodes_ready, done.nodes_failed) == (9, 1)
    assert done.failures == {NODES[2]: "ImagePullBackOff"}
    assert fakes.rolled_back == []


async def test_a_gate_that_errors_fails_its_wave(
    time_skipping_env: WorkflowEnvironment, task_queue: str, fakes: Fakes
) -> None:
    fakes.gate_error = "cannot list deployments"
    done = await (await start(time_skipping_env, task_queue, rollout())).result()
    assert done.state is RolloutState.ROLLED_BACK
    assert fakes.applied == waves_of(NODES)[:1]
    assert "cannot list deployments" in done.failures[NODES[0]]


async def test_the_abort_signal_stops_the_gate_and_rolls_back(
    time_skipping_env: WorkflowEnvironment, task_queue: str, fakes: Fakes
) -> None:
    fakes.held = {1}
    handle = await start(time_skipping_env, task_queue, rollout())
    await eventually(lambda: _true(1 in fakes.gating))
    await handle.signal(ROLLOUT_ABORT_SIGNAL, "operator says stop")
    done = await handle.result()
    assert done.state is RolloutState.ROLLED_BACK
    assert done.abort_reason == "operator says stop"
    assert fakes.applied == waves_of(NODES)[:2]
    assert fakes.rolled_back == list(reversed(waves_of(NODES)[:2]))


async def test_pause_holds_the_next_wave_until_resume(
    time_skipping_env: WorkflowEnvironment, task_queue: str, fakes: Fakes
) -> None:
    fakes.held = {0}
    handle = await start(time_skipping_env, task_queue, rollout())

    async def progress() -> RolloutProgress:
        current: RolloutProgress = await handle.query(
            ROLLOUT_PROGRESS_QUERY, result_type=RolloutProgress
        )
        return current

    await eventually(lambda: _true(0 in fakes.gating))
    await handle.signal(ROLLOUT_PAUSE_SIGNAL)
    assert (await progress()).state is RolloutState.PAUSED
    fakes.release.set()
    await eventually(lambda: _waves_done(progress, 1))
    assert len(fakes.applied) == 1  # paused: the second wave waits
    assert (await progress()).state is RolloutState.PAUSED
    await handle.signal(ROLLOUT_RESUME_SIGNAL)
    done = await handle.result()
    assert done.state is RolloutState.COMPLETED
    assert fakes.applied == waves_of(NODES)


async def test_supersede_stops_without_rolling_back(
    time_skipping_env: WorkflowEnvironment, task_queue: str, fakes: Fakes
) -> None:
    fakes.held = {1}
    handle = await start(time_skipping_env, task_queue, rollout())
    await eventually(lambda: _true(1 in fakes.gating))
    await handle.signal(ROLLOUT_SUPERSEDE_SIGNAL)
    done = await handle.result()
    assert done.state is RolloutState.SUPERSEDED
    assert fakes.applied == waves_of(NODES)[:2]
    assert fakes.rolled_back == []
    assert fakes.records[-1].progress.state is RolloutState.SUPERSEDED


async def test_no_matching_node_fails_fast(
    time_skipping_env: WorkflowEnvironment, task_queue: str, fakes: Fakes
) -> None:
    fakes.targets = []
    done = await (await start(time_skipping_env, task_queue, rollout())).result()
    assert done.state is RolloutState.FAILED
    assert done.error == NO_MATCH
    assert fakes.applied == []


async def test_explicit_nodes_skip_the_placement(
    time_skipping_env: WorkflowEnvironment, task_queue: str, fakes: Fakes
) -> None:
    fakes.targets = []  # the placement would match nothing
    nodes = NODES[:3]
    done = await (await start(time_skipping_env, task_queue, rollout(nodes=nodes))).result()
    assert done.state is RolloutState.COMPLETED
    assert [node for wave in fakes.applied for node in wave] == nodes


async def test_removal_stops_rollouts_then_deletes_objects_and_rows(
    time_skipping_env: WorkflowEnvironment, task_queue: str, fakes: Fakes
) -> None:
    fakes.held = {1}
    inp = rollout()
    handle = await start(time_skipping_env, task_queue, inp)
    await eventually(lambda: _true(1 in fakes.gating))
    gone_run = rollout_workflow_id(inp.workload_id, 99)  # a row whose run never started
    fakes.running = [handle.id, gone_run]

    async def finished() -> None:
        await handle.result()
        fakes.running = [gone_run]

    watcher = asyncio.create_task(finished())
    removal = WorkloadRemovalInput(workload_id=inp.workload_id, namespace="apps")
    result = await time_skipping_env.client.execute_workflow(
        WorkloadRemovalWorkflow.run,
        removal,
        id=workload_removal_workflow_id(inp.workload_id),
        task_queue=task_queue,
    )
    await watcher
    assert (await handle.result()).state is RolloutState.SUPERSEDED
    assert result.rollouts_stopped == sorted([handle.id, gone_run])
    assert len(result.objects_deleted) == len(NODES)
    assert fakes.deleted_objects == [inp.workload_id]
    assert fakes.deleted_records == [inp.workload_id]


async def _true(value: bool) -> bool:
    return value


async def _waves_done(progress: Any, count: int) -> bool:
    return bool((await progress()).waves_done >= count)
