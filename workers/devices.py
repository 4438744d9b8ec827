"""The inventory's workflows and activities, for workers.worker to register,
and the node sync every worker makes sure is running."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from activities.cloudcore.deployment import CloudCoreActivities
from activities.devices.removal import RemovalActivities
from activities.devices.sync import ClusterSyncActivities
from activities.devices.tokens import TokenActivities
from activities.join.mqtt_credentials import MqttCredentialActivities
from adapters.kubernetes.client import KubeTarget
from store.settings import Settings
from workflows.cloudcore.deploy import CloudCoreDeployWorkflow
from workflows.contracts import summaries
from workflows.contracts.devices import SYNC_NODES_WORKFLOW, SYNC_NODES_WORKFLOW_ID, SyncNodesInput
from workflows.devices.issue_token import IssueTokenWorkflow
from workflows.devices.removal import DeviceRemovalWorkflow
from workflows.devices.sync_nodes import SyncNodesWorkflow

INVENTORY_WORKFLOWS: Sequence[type] = (
    IssueTokenWorkflow,
    DeviceRemovalWorkflow,
    SyncNodesWorkflow,
    CloudCoreDeployWorkflow,
)


def inventory_activities(
    *,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    target: KubeTarget,
    tokens: TokenActivities,
    accounts: MqttCredentialActivities,
) -> list[Any]:
    removal = RemovalActivities(
        target=target,
        sessions=sessions,
        mqtt=accounts,
        kubeedge_namespace=settings.kubeedge_namespace,
    )
    sync = ClusterSyncActivities(target=target, sessions=sessions)
    cloudcore = CloudCoreActivities(target=target, sessions=sessions)
    return [
        tokens.issue_node_token,
        removal.cancel_join_run,
        removal.delete_node,
        removal.revoke_device_tokens,
        sync.sync_cluster,
        cloudcore.read_cloudcore,
        cloudcore.apply_cloudcore,
        cloudcore.read_cloudcore_rollout,
        cloudcore.restore_cloudcore,
        cloudcore.snapshot_cloudcore,
    ]


async def ensure_node_sync(client: Client, *, settings: Settings) -> None:
    """Start the node sync unless it runs already (every worker replica calls this)."""
    await client.start_workflow(
        SYNC_NODES_WORKFLOW,
        SyncNodesInput(
            interval_seconds=settings.node_sync_interval_seconds,
            kubeedge_namespace=settings.kubeedge_namespace,
        ),
        id=SYNC_NODES_WORKFLOW_ID,
        static_summary=summaries.node_sync_summary(settings.kubeedge_namespace),
        task_queue=settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
