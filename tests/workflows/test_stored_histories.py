"""Determinism guard: every stored history replays on today's code, and every workflow
type has one.

The histories under histories/ were recorded on earlier code by the record_*.py modules;
a change that no longer replays one would break runs of that type already in flight.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tests.workflows.backup.record_backup_history import RUNS as BACKUP_RUNS
from workers.worker import SANDBOX
from workflows.audit.retention import AuditRetentionWorkflow
from workflows.backup.backup import BackupWorkflow
from workflows.backup.restore import RestoreWorkflow
from workflows.certificates.renewal import CertificateRenewalWorkflow
from workflows.cloudcore.deploy import CloudCoreDeployWorkflow
from workflows.commands.broadcast import BroadcastCommandWorkflow
from workflows.commands.command import CommandWorkflow
from workflows.commands.command_job import CommandJobWorkflow
from workflows.commands.connection_test import ConnectionTestWorkflow
from workflows.contracts.audit import AUDIT_RETENTION_WORKFLOW
from workflows.contracts.backup import BACKUP_WORKFLOW, RESTORE_WORKFLOW
from workflows.contracts.certificates import CERTIFICATE_RENEWAL_WORKFLOW
from workflows.contracts.cloudcore import CLOUDCORE_DEPLOY_WORKFLOW
from workflows.contracts.commands import (
    BROADCAST_WORKFLOW,
    COMMAND_JOB_WORKFLOW,
    COMMAND_WORKFLOW,
    CONNECTION_TEST_WORKFLOW,
)
from workflows.contracts.devices import (
    DEVICE_REMOVAL_WORKFLOW,
    ISSUE_TOKEN_WORKFLOW,
    SYNC_NODES_WORKFLOW,
)
from workflows.contracts.join import BATCH_JOIN_WORKFLOW, DEVICE_JOIN_WORKFLOW
from workflows.contracts.maintenance import MAINTENANCE_WORKFLOW
from workflows.contracts.monitoring import ALERT_EVALUATION_WORKFLOW, METRICS_COMPACTION_WORKFLOW
from workflows.contracts.webhooks import WEBHOOK_DELIVERY_WORKFLOW
from workflows.contracts.workloads import WORKLOAD_REMOVAL_WORKFLOW, WORKLOAD_ROLLOUT_WORKFLOW
from workflows.devices.issue_token import IssueTokenWorkflow
from workflows.devices.removal import DeviceRemovalWorkflow
from workflows.devices.sync_nodes import SyncNodesWorkflow
from workflows.join.batch_join import BatchJoinWorkflow
from workflows.join.device_join import DeviceJoinWorkflow
from workflows.maintenance.window import MaintenanceWorkflow
from workflows.monitoring.alerts import AlertEvaluationWorkflow
from workflows.monitoring.compaction import MetricsCompactionWorkflow
from workflows.webhooks.delivery import WebhookDeliveryWorkflow
from workflows.workloads.removal import WorkloadRemovalWorkflow
from workflows.workloads.rollout import WorkloadRolloutWorkflow

HISTORIES = Path(__file__).with_name("histories")
PATHS = sorted(HISTORIES.glob("*.json"))

# Every workflow type, by the name its histories carry.
WORKFLOWS: dict[str, type] = {
    DEVICE_JOIN_WORKFLOW: DeviceJoinWorkflow,
    BATCH_JOIN_WORKFLOW: BatchJoinWorkflow,
    ISSUE_TOKEN_WORKFLOW: IssueTokenWorkflow,
    DEVICE_REMOVAL_WORKFLOW: DeviceRemovalWorkflow,
    SYNC_NODES_WORKFLOW: SyncNodesWorkflow,
    CLOUDCORE_DEPLOY_WORKFLOW: CloudCoreDeployWorkflow,
    CERTIFICATE_RENEWAL_WORKFLOW: CertificateRenewalWorkflow,
    COMMAND_WORKFLOW: CommandWorkflow,
    COMMAND_JOB_WORKFLOW: CommandJobWorkflow,
    BROADCAST_WORKFLOW: BroadcastCommandWorkflow,
    CONNECTION_TEST_WORKFLOW: ConnectionTestWorkflow,
    BACKUP_WORKFLOW: BackupWorkflow,
    RESTORE_WORKFLOW: RestoreWorkflow,
    WORKLOAD_ROLLOUT_WORKFLOW: WorkloadRolloutWorkflow,
    WORKLOAD_REMOVAL_WORKFLOW: WorkloadRemovalWorkflow,
    WEBHOOK_DELIVERY_WORKFLOW: WebhookDeliveryWorkflow,
    METRICS_COMPACTION_WORKFLOW: MetricsCompactionWorkflow,
    ALERT_EVALUATION_WORKFLOW: AlertEvaluationWorkflow,
    AUDIT_RETENTION_WORKFLOW: AuditRetentionWorkflow,
    MAINTENANCE_WORKFLOW: MaintenanceWorkflow,
}


# A run that derives commands from its own workflow ID (a restore names its safety backup
# child after it) replays only under the ID it ran with; the others take any stable one.
RECORDED_IDS = {name: workflow_id for name, (_, workflow_id, _) in BACKUP_RUNS.items()}


def workflow_id(path: Path) -> str:
    return RECORDED_IDS.get(path.stem, f"stored/{path.stem}")


def workflow_type(text: str) -> str:
    """The type a history is of, from its WorkflowExecutionStarted event."""
    events = json.loads(text)["events"]
    started = next(e for e in events if "workflowExecutionStartedEventAttributes" in e)
    name: str = started["workflowExecutionStartedEventAttributes"]["workflowType"]["name"]
    return name


async def stored_histories() -> AsyncIterator[WorkflowHistory]:
    for path in PATHS:
        text = await asyncio.to_thread(path.read_text)
        yield WorkflowHistory.from_json(workflow_id(path), text)


@pytest.fixture(scope="module")
async def replay_failures() -> dict[str, Exception | None]:
    """Every stored history replayed by one Replayer, by workflow ID: each replay_workflow
    call starts a replay worker that validates all 14 workflows anew (seconds apiece)."""
    replayer = Replayer(
        workflows=list(WORKFLOWS.values()),
        data_converter=pydantic_data_converter,
        workflow_runner=SANDBOX,  # the worker's own: what runs in flight replay on
    )
    failures: dict[str, Exception | None] = {}
    async with replayer.workflow_replay_iterator(stored_histories()) as results:
        async for result in results:
            failures[result.history.workflow_id] = result.replay_failure
    return failures


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_stored_history_replays(path: Path, replay_failures: dict[str, Exception | None]) -> None:
    failure = replay_failures[workflow_id(path)]
    if failure is not None:
        raise failure


def test_every_workflow_type_has_a_stored_history() -> None:
    stored = {workflow_type(path.read_text()) for path in PATHS}
    assert set(WORKFLOWS) - stored == set(), "workflow types without a stored history"
