"""Record a stored history for every workflow type the other recorders leave out.

`python -m tests.workflows.record_workflow_histories` runs BatchJoin, IssueToken,
DeviceRemoval, SyncNodes, CloudCoreDeploy, CommandJob, BroadcastCommand, ConnectionTest,
WorkloadRollout, WorkloadRemoval, MetricsCompaction, AlertEvaluation and AuditRetention on the
time-skipping server with the stand-in activities of their tests: a successful run each,
and a failing or compensating one where that path is cheap to drive. Each history goes to
tests/workflows/histories/<workflow>_<scenario>.json; test_stored_histories.py replays
them. Re-record only on purpose: a history that no longer replays means the change would
break runs already in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import sysconfig
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from temporalio import activity
from temporalio.client import (
    Client,
    WorkflowContinuedAsNewError,
    WorkflowFailureError,
    WorkflowHandle,
)
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.support.helpers import eventually
from tests.workflows.cloudcore.test_cloudcore_deploy import deploy_input
from tests.workflows.commands.fake_command_activities import FakeCommandActivities
from tests.workflows.commands.test_command_job import job
from tests.workflows.devices.fake_inventory_activities import FakeInventoryActivities
from tests.workflows.devices.test_device_removal import removal_input
from tests.workflows.join.stub_join import StubJoin
from tests.workflows.join.test_batch_join import FakeBatchStore, batch_input
from tests.workflows.workloads.test_workload_rollout import NODES, SPEC_V2
from tests.workflows.workloads.test_workload_rollout import Fakes as WorkloadFakes
from workflows.audit.retention import AuditRetentionWorkflow
from workflows.cloudcore.deploy import CloudCoreDeployWorkflow
from workflows.commands.broadcast import BroadcastCommandWorkflow
from workflows.commands.command import CommandWorkflow
from workflows.commands.command_job import CommandJobWorkflow
from workflows.commands.connection_test import ConnectionTestWorkflow
from workflows.contracts.audit import (
    AUDIT_RETENTION_WORKFLOW,
    AuditActivity,
    AuditRetentionInput,
    AuditRetentionResult,
)
from workflows.contracts.cloudcore import CLOUDCORE_DEPLOY_WORKFLOW, CloudCoreActivity
from workflows.contracts.commands import (
    BROADCAST_WORKFLOW,
    COMMAND_JOB_WORKFLOW,
    COMMAND_RESULT_SIGNAL,
    CONNECTION_TEST_WORKFLOW,
    BroadcastInput,
    CommandJobInput,
    ConnectionTestInput,
    DeviceResult,
    command_workflow_id,
)
from workflows.contracts.common import SEARCH_ATTRIBUTES
from workflows.contracts.devices import (
    DEVICE_REMOVAL_WORKFLOW,
    ISSUE_TOKEN_WORKFLOW,
    SYNC_NODES_WORKFLOW,
    DevicesActivity,
    IssueNodeTokenInput,
    SyncNodesInput,
    issue_token_workflow_id,
)
from workflows.contracts.join import (
    BATCH_CANCEL_SIGNAL,
    BATCH_JOIN_WORKFLOW,
    BATCH_PROGRESS_QUERY,
    BatchJoinInput,
    BatchProgress,
    IssuedJoinToken,
    JoinActivity,
)
from workflows.contracts.monitoring import (
    ALERT_EVALUATION_WORKFLOW,
    METRICS_COMPACTION_WORKFLOW,
    AlertEvaluationInput,
    AlertRound,
    AlertTransition,
    CompactionInput,
    CompactionResult,
    EvaluateAlertsInput,
    MonitoringActivity,
)
from workflows.contracts.workloads import (
    WORKLOAD_REMOVAL_WORKFLOW,
    WORKLOAD_ROLLOUT_WORKFLOW,
    RolloutInput,
    RolloutStrategy,
    WorkloadRemovalInput,
    rollout_workflow_id,
    workload_removal_workflow_id,
)
from workflows.devices.issue_token import IssueTokenWorkflow
from workflows.devices.removal import DeviceRemovalWorkflow
from workflows.devices.sync_nodes import SyncNodesWorkflow
from workflows.join.batch_join import BatchJoinWorkflow
from workflows.monitoring.alerts import AlertEvaluationWorkflow
from workflows.monitoring.compaction import MetricsCompactionWorkflow
from workflows.workloads.removal import WorkloadRemovalWorkflow
from workflows.workloads.rollout import WorkloadRolloutWorkflow

HISTORIES = Path(__file__).with_name("histories")

Histories = dict[str, str]  # file stem -> history as JSON
Handle = WorkflowHandle[Any, Any]

COMMAND_WORKFLOWS = [
    CommandWorkflow,
    CommandJobWorkflow,
    BroadcastCommandWorkflow,
    ConnectionTestWorkflow,
]
WORKLOAD_WORKFLOWS = [WorkloadRolloutWorkflow, WorkloadRemovalWorkflow]

# --- running a workflow --------------------------------------------------------------------


@contextlib.asynccontextmanager
async def worker(
    client: Client, workflows: Sequence[type], activities: Sequence[Callable[..., Any]]
) -> AsyncIterator[str]:
    """A worker on a task queue of its own, so the stand-ins of one run see only that run."""
    queue = f"record-{uuid.uuid4()}"
    async with Worker(client, task_queue=queue, workflows=workflows, activities=activities):
        yield queue


async def history_of(handle: Handle) -> str:
    """Wait for the run to close (a failed run is a history too) and return it as JSON."""
    with contextlib.suppress(WorkflowFailureError):
        await handle.result()
    return (await handle.fetch_history()).to_json()


async def run_alone(
    client: Client,
    *,
    workflows: Sequence[type],
    activities: Sequence[Callable[..., Any]],
    workflow: str,
    arg: Any,
    workflow_id: str,
) -> str:
    """Run one workflow to its end and return its history."""
    async with worker(client, workflows, activities) as queue:
        handle = await client.start_workflow(workflow, arg, id=workflow_id, task_queue=queue)
        return await history_of(handle)


async def holds(value: bool) -> bool:
    """A plain condition as the awaitable check `eventually` polls."""
    return value


# --- IssueTokenWorkflow --------------------------------------------------------------------

TOKEN_EXPIRES = datetime(2030, 1, 1, tzinfo=UTC)


@activity.defn(name=DevicesActivity.ISSUE_NODE_TOKEN)
async def issue_node_token(inp: IssueNodeTokenInput) -> IssuedJoinToken:
    # The workflow only passes the sealed token on: no cluster CA needed to stand in.
    return IssuedJoinToken(
        token_id=inp.token_id, sealed_token=f"sealed-{inp.token_id}", expires_at=inp.expires_at
    )


async def record_issue_token(client: Client) -> Histories:
    inp = IssueNodeTokenInput(
        node_name="edge-node-001",
        device_id="camera-001",
        token_id="tok-recorded",
        expires_at=TOKEN_EXPIRES,
    )
    text = await run_alone(
        client,
        workflows=[IssueTokenWorkflow],
        activities=[issue_node_token],
        workflow=ISSUE_TOKEN_WORKFLOW,
        arg=inp,
        workflow_id=issue_token_workflow_id(inp.token_id),
    )
    return {"issue_token_completed": text}


# --- DeviceRemovalWorkflow, CloudCoreDeployWorkflow, SyncNodesWorkflow ---------------------


async def record_device_removal(client: Client) -> Histories:
    removed = FakeInventoryActivities()
    removed.join_was_running = True  # the cancel step then has something to say
    failed = FakeInventoryActivities()
    failed.fail(JoinActivity.DELETE_NODE_RBAC)
    histories: Histories = {}
    for name, fakes in (("completed", removed), ("failed_at_rbac", failed)):
        histories[f"device_removal_{name}"] = await run_alone(
            client,
            workflows=[DeviceRemovalWorkflow],
            activities=fakes.removal(),
            workflow=DEVICE_REMOVAL_WORKFLOW,
            arg=removal_input(),
            workflow_id=f"device-removal/{name}",
        )
    return histories


async def record_cloudcore_deploy(client: Client) -> Histories:
    deployed = FakeInventoryActivities()
    deployed.ready_after_polls = 2  # one sleep between two rollout polls
    rolled_back = FakeInventoryActivities()
    rolled_back.fail(CloudCoreActivity.APPLY_CLOUDCORE, error_type="KubernetesRejected")
    histories: Histories = {}
    for name, fakes in (("completed", deployed), ("rolled_back", rolled_back)):
        histories[f"cloudcore_deploy_{name}"] = await run_alone(
            client,
            workflows=[CloudCoreDeployWorkflow],
            activities=fakes.cloudcore(),
            workflow=CLOUDCORE_DEPLOY_WORKFLOW,
            arg=deploy_input(),
            workflow_id=f"cloudcore-deploy/{name}",
        )
    return histories


async def record_sync_nodes(client: Client) -> Histories:
    """The first run of the endless sync: two rounds, then continued as new (a closed run)."""
    fakes = FakeInventoryActivities()
    inp = SyncNodesInput(rounds_per_run=2)
    async with worker(client, [SyncNodesWorkflow], fakes.sync()) as queue:
        handle = await client.start_workflow(
            SYNC_NODES_WORKFLOW, inp, id="sync-nodes/recorded", task_queue=queue
        )
        # result() on the handle start_workflow returned skips time (one from
        # get_workflow_handle would not) and waits for the first run only; that handle's
        # fetch_history() would read the latest run.
        with contextlib.suppress(WorkflowContinuedAsNewError):
            await handle.result(follow_runs=False)
        first_run = client.get_workflow_handle(handle.id, run_id=handle.first_execution_run_id)
        text = (await first_run.fetch_history()).to_json()
        await handle.terminate("history recorded")
    return {"sync_nodes_continued_as_new": text}


# --- CommandJobWorkflow, ConnectionTestWorkflow, BroadcastCommandWorkflow ------------------

JOB_DEVICES = ["dev-001", "dev-002", "dev-003"]


async def run_job(client: Client, inp: CommandJobInput, *, succeed: bool) -> str:
    fakes = FakeCommandActivities(client, devices=JOB_DEVICES)
    fakes.answers = dict.fromkeys(JOB_DEVICES, succeed)
    return await run_alone(
        client,
        workflows=COMMAND_WORKFLOWS,
        activities=fakes.all(),
        workflow=COMMAND_JOB_WORKFLOW,
        arg=inp,
        workflow_id=f"command-job/{inp.job_id}",
    )


async def record_command_job(client: Client) -> Histories:
    # One device at a time, every one failing: the job aborts after two, the third unstarted.
    aborting = job(
        job_id="job_aborted", max_in_flight=1, abort_threshold_percent=50, min_executed_for_abort=2
    )
    # "commandjob", not "command_job": test_command_replay.py replays command_*.json with
    # CommandWorkflow alone.
    return {
        "commandjob_completed": await run_job(client, job(job_id="job_completed"), succeed=True),
        "commandjob_aborted": await run_job(client, aborting, succeed=False),
    }


async def record_connection_test(client: Client) -> Histories:
    fakes = FakeCommandActivities(client)
    fakes.answers = {"camera-001": True}
    inp = ConnectionTestInput(
        test_id="test_completed",
        device_id="camera-001",
        tests=["ping", "port_check"],
        timeout_seconds=10,
        connect_timeout_seconds=0,
    )
    text = await run_alone(
        client,
        workflows=COMMAND_WORKFLOWS,
        activities=fakes.all(),
        workflow=CONNECTION_TEST_WORKFLOW,
        arg=inp,
        workflow_id=f"device-test/{inp.test_id}",
    )
    return {"connection_test_completed": text}


async def run_broadcast(client: Client, name: str, answers: Sequence[tuple[str, bool]]) -> str:
    """A broadcast two online cameras should answer; `answers` are the ones that do."""
    fakes = FakeCommandActivities(client)
    fakes.expected = 2
    inp = BroadcastInput(
        command_id=f"bc_{name}", device_type="camera", command="reboot", timeout_seconds=60
    )
    async with worker(client, COMMAND_WORKFLOWS, fakes.all()) as queue:
        handle = await client.start_workflow(
            BROADCAST_WORKFLOW, inp, id=command_workflow_id(inp.command_id), task_queue=queue
        )
        for device, success in answers:
            answer = DeviceResult(
                command_id=inp.command_id,
                device_id=device,
                success=success,
                received_at=datetime.now(UTC),
            )
            await handle.signal(COMMAND_RESULT_SIGNAL, answer)
        return await history_of(handle)


async def record_broadcast(client: Client) -> Histories:
    both = [("cam-a", True), ("cam-b", False)]
    return {
        "broadcast_completed": await run_broadcast(client, "completed", both),
        "broadcast_timed_out": await run_broadcast(client, "timed_out", both[:1]),
    }


# --- BatchJoinWorkflow ---------------------------------------------------------------------


def batch_activities(store: FakeBatchStore) -> list[Callable[..., Any]]:
    # The store's stand-ins plus the stub join's activity; the fake types them as objects.
    return cast(list[Callable[..., Any]], store.activities())


def batch(batch_id: str, devices: Sequence[str], **changes: Any) -> BatchJoinInput:
    return batch_input(len(devices)).model_copy(update={"batch_id": batch_id, **changes})


async def record_batch_join(client: Client) -> Histories:
    # `bad-*` joins fail, the others succeed (stub_join.StubJoin).
    devices = ["dev-1", "dev-2", "dev-3", "bad-4"]
    store = FakeBatchStore(devices)
    async with worker(client, [BatchJoinWorkflow, StubJoin], batch_activities(store)) as queue:
        inp = batch("b-completed", devices)
        handle = await client.start_workflow(
            BATCH_JOIN_WORKFLOW, inp, id=f"batch-join/{inp.batch_id}", task_queue=queue
        )
        text = await history_of(handle)
    return {"batch_join_completed": text}


async def window_full(handle: Handle, size: int) -> bool:
    progress: BatchProgress = await handle.query(BATCH_PROGRESS_QUERY, result_type=BatchProgress)
    return progress.in_flight == size


async def record_cancelled_batch(client: Client) -> Histories:
    """`slow-*` joins never finish: the batch is cancelled with every join in flight."""
    devices = ["slow-1", "slow-2", "slow-3"]
    store = FakeBatchStore(devices)
    # A long poll interval: the wait for the window passes in real time, and would
    # otherwise add a timer and a read to the history every 0.2 s.
    inp = batch("b-cancelled", devices, result_poll_seconds=30.0)
    async with worker(client, [BatchJoinWorkflow, StubJoin], batch_activities(store)) as queue:
        handle = await client.start_workflow(
            BATCH_JOIN_WORKFLOW, inp, id=f"batch-join/{inp.batch_id}", task_queue=queue
        )
        await eventually(lambda: window_full(handle, len(devices)))
        await handle.signal(BATCH_CANCEL_SIGNAL)
        return {"batch_join_cancelled": await history_of(handle)}


# --- WorkloadRolloutWorkflow, WorkloadRemovalWorkflow --------------------------------------

WORKLOAD_NODES = NODES[:3]
# Waves [1, 2]: a canary, then the rest at once.
WAVES = RolloutStrategy(canary_nodes=1, wave_percent=100)


def workload_fakes() -> WorkloadFakes:
    fakes = WorkloadFakes()
    fakes.targets = list(WORKLOAD_NODES)
    return fakes


def rollout_input(workload_id: str) -> RolloutInput:
    return RolloutInput(
        workload_id=workload_id,
        revision=2,
        spec=SPEC_V2,
        strategy=WAVES,
        rollout_id=f"deploy-{workload_id}",
    )


async def run_rollout(client: Client, workload_id: str, fakes: WorkloadFakes) -> str:
    inp = rollout_input(workload_id)
    return await run_alone(
        client,
        workflows=WORKLOAD_WORKFLOWS,
        activities=fakes.all(),
        workflow=WORKLOAD_ROLLOUT_WORKFLOW,
        arg=inp,
        workflow_id=rollout_workflow_id(inp.workload_id, inp.revision),
    )


async def record_workload_rollout(client: Client) -> Histories:
    failing = workload_fakes()
    failing.failing = {WORKLOAD_NODES[1]: "CrashLoopBackOff"}  # in the second wave
    return {
        "workload_rollout_completed": await run_rollout(client, "wl-completed", workload_fakes()),
        "workload_rollout_rolled_back": await run_rollout(client, "wl-rolled-back", failing),
    }


def rollout_ended(fakes: WorkloadFakes) -> Awaitable[bool]:
    return holds(any(record.progress.state.final for record in fakes.records))


async def record_workload_removal(client: Client) -> Histories:
    """A removal that stops a rollout held in its second wave's gate (superseded)."""
    fakes = workload_fakes()
    fakes.held = {1}
    inp = rollout_input("wl-removed")
    removal = WorkloadRemovalInput(workload_id=inp.workload_id, namespace="apps")
    async with worker(client, WORKLOAD_WORKFLOWS, fakes.all()) as queue:
        rollout = await client.start_workflow(
            WORKLOAD_ROLLOUT_WORKFLOW,
            inp,
            id=rollout_workflow_id(inp.workload_id, inp.revision),
            task_queue=queue,
        )
        await eventually(lambda: holds(1 in fakes.gating))
        fakes.running = [rollout.id]
        removing = await client.start_workflow(
            WORKLOAD_REMOVAL_WORKFLOW,
            removal,
            id=workload_removal_workflow_id(inp.workload_id),
            task_queue=queue,
        )
        # Waited for in real time (no result() yet, so no time skipping): the removal's
        # first poll, 3 s on, finds the rollout gone, and its history stays short.
        await eventually(lambda: rollout_ended(fakes))
        fakes.running = []
        return {
            "workload_rollout_superseded": await history_of(rollout),
            "workload_removal_stopped_rollout": await history_of(removing),
        }


# --- main ----------------------------------------------------------------------------------

# --- MetricsCompactionWorkflow ---------------------------------------------------------------


@activity.defn(name=MonitoringActivity.COMPACT_METRICS)
async def compact_metrics(inp: CompactionInput) -> CompactionResult:
    return CompactionResult(
        compacted_from=1_800_000_000,
        compacted_until=1_800_000_300,
        rollups_written={"1m": 5, "5m": 1, "1h": 1},
        samples_pruned=0,
        rollups_pruned={"1m": 0, "5m": 0, "1h": 0},
    )


async def record_metrics_compaction(client: Client) -> Histories:
    text = await run_alone(
        client,
        workflows=[MetricsCompactionWorkflow],
        activities=[compact_metrics],
        workflow=METRICS_COMPACTION_WORKFLOW,
        arg=CompactionInput(),
        workflow_id="record/metrics-compaction",
    )
    return {"metrics_compaction_completed": text}


# --- AuditRetentionWorkflow ------------------------------------------------------------------


@activity.defn(name=AuditActivity.PRUNE_AUDIT_LOG)
async def prune_audit_log(inp: AuditRetentionInput) -> AuditRetentionResult:
    return AuditRetentionResult(cutoff=datetime(2030, 1, 1, tzinfo=UTC), deleted=3)


async def record_audit_retention(client: Client) -> Histories:
    text = await run_alone(
        client,
        workflows=[AuditRetentionWorkflow],
        activities=[prune_audit_log],
        workflow=AUDIT_RETENTION_WORKFLOW,
        arg=AuditRetentionInput(retention_days=90),
        workflow_id="record/audit-retention",
    )
    return {"audit_retention_completed": text}


# --- AlertEvaluationWorkflow -----------------------------------------------------------------

ROUNDS = iter(range(1_000_000))


@activity.defn(name=MonitoringActivity.EVALUATE_ALERTS)
async def evaluate_alerts(inp: EvaluateAlertsInput) -> AlertRound:
    # The first round fires an alert, the second resolves it.
    state = "firing" if next(ROUNDS) % 2 == 0 else "resolved"
    return AlertRound(
        transitions=[
            AlertTransition(
                alert_id=1,
                rule="high_cpu",
                device_id="dev-001",
                node_name="node-001",
                severity="warning",
                state=state,
                message="cpu_usage 97 > 90 for 300 s",
                value=97.0,
                at=datetime(2030, 1, 1, tzinfo=UTC),
            )
        ]
    )


async def record_alert_evaluation(client: Client) -> Histories:
    """The first run of the endless evaluation: two rounds, then continued as new."""
    inp = AlertEvaluationInput(rounds_per_run=2)
    async with worker(client, [AlertEvaluationWorkflow], [evaluate_alerts]) as queue:
        handle = await client.start_workflow(
            ALERT_EVALUATION_WORKFLOW, inp, id="alert-evaluation/recorded", task_queue=queue
        )
        with contextlib.suppress(WorkflowContinuedAsNewError):
            await handle.result(follow_runs=False)
        first_run = client.get_workflow_handle(handle.id, run_id=handle.first_execution_run_id)
        text = (await first_run.fetch_history()).to_json()
        await handle.terminate("history recorded")
    return {"alert_evaluation_continued_as_new": text}


RECORDERS: list[Callable[[Client], Awaitable[Histories]]] = [
    record_metrics_compaction,
    record_alert_evaluation,
    record_audit_retention,
    record_batch_join,
    record_cancelled_batch,
    record_issue_token,
    record_device_removal,
    record_sync_nodes,
    record_cloudcore_deploy,
    record_command_job,
    record_broadcast,
    record_connection_test,
    record_workload_rollout,
    record_workload_removal,
]


@contextlib.asynccontextmanager
async def recording_server() -> AsyncIterator[Client]:
    from tests.support.temporal_fixtures import register_search_attributes

    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=str(Path(sysconfig.get_path("scripts")) / "temporal-test-server"),
    )
    try:
        await register_search_attributes(env.client, SEARCH_ATTRIBUTES)
        yield env.client
    finally:
        await env.shutdown()


async def main(only: Sequence[str] = ()) -> None:
    """Record every history, or only those of the recorders named (`record_batch_join`)."""
    # A server per recorder, as the tests have one per module: a run left behind with a
    # task in flight (the abandoned joins of a cancelled batch, the superseded rollout's
    # gate, the terminated sync) stops the test server skipping time for every later run.
    for record in RECORDERS:
        if only and record.__name__ not in only:
            continue
        async with recording_server() as client:
            histories = await record(client)
        for stem, text in histories.items():
            (HISTORIES / f"{stem}.json").write_text(text)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
    os._exit(0)
