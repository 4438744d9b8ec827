"""The metrics workflows record, named once for the interceptor that records them and the
worker's collector that exposes them (which declares each even before its first value).

Workflows record through `workflow.metric_meter()`, which skips replays, so a run counts
once however often a worker replays it. The SDK adds `namespace`, `task_queue` and
`workflow_type` to every value; `outcome` is a run's end (completed, failed, cancelled,
continued_as_new) or the status its result reports, an enumeration in every contract.
"""

from __future__ import annotations

from dataclasses import dataclass

from workflows.contracts.backup import BACKUP_WORKFLOW
from workflows.contracts.commands import BROADCAST_WORKFLOW, COMMAND_JOB_WORKFLOW, COMMAND_WORKFLOW
from workflows.contracts.join import BATCH_JOIN_WORKFLOW, DEVICE_JOIN_WORKFLOW
from workflows.contracts.workloads import WORKLOAD_ROLLOUT_WORKFLOW


@dataclass(frozen=True)
class CounterSpec:
    name: str  # without Prometheus' `_total`, which the exposition adds
    description: str


RUNS_STARTED = CounterSpec("edgewright_workflow_runs_started", "Workflow runs started, by type")
RUNS_FINISHED = CounterSpec(
    "edgewright_workflow_runs_finished", "Workflow runs finished, by type and outcome"
)
JOINS = CounterSpec("edgewright_joins", "Device joins finished, by outcome")
BATCHES = CounterSpec("edgewright_batch_joins", "Batch joins finished, by outcome")
BATCH_DEVICES = CounterSpec(
    "edgewright_batch_join_devices", "Devices of finished batch joins, by outcome"
)
ROLLOUTS = CounterSpec("edgewright_rollouts", "Workload rollouts finished, by outcome")
COMMANDS = CounterSpec(
    "edgewright_commands", "Commands, command jobs and broadcasts finished, by outcome"
)
BACKUPS = CounterSpec("edgewright_backups", "Backups finished, by outcome")

# Which domain counter a workflow type's end also counts in.
DOMAIN_COUNTERS: dict[str, CounterSpec] = {
    DEVICE_JOIN_WORKFLOW: JOINS,
    BATCH_JOIN_WORKFLOW: BATCHES,
    WORKLOAD_ROLLOUT_WORKFLOW: ROLLOUTS,
    COMMAND_WORKFLOW: COMMANDS,
    COMMAND_JOB_WORKFLOW: COMMANDS,
    BROADCAST_WORKFLOW: COMMANDS,
    BACKUP_WORKFLOW: BACKUPS,
}

WORKFLOW_COUNTERS: tuple[CounterSpec, ...] = (
    RUNS_STARTED,
    RUNS_FINISHED,
    JOINS,
    BATCHES,
    BATCH_DEVICES,
    ROLLOUTS,
    COMMANDS,
    BACKUPS,
)
