"""The device inventory: join tokens on demand, device removal and the node sync."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import (
    Field,
)
from temporalio import activity

from workflows.contracts.common import (
    ContractModel,
    DeviceId,
    DeviceRef,
    KnownNodeName,
    NodeName,
    NodeRef,
    ShortText,
)
from workflows.contracts.join import IssuedJoinToken

ISSUE_TOKEN_WORKFLOW = "IssueTokenWorkflow"  # noqa: S105 (a name, not a secret)


DEVICE_REMOVAL_WORKFLOW = "DeviceRemovalWorkflow"


SYNC_NODES_WORKFLOW = "SyncNodesWorkflow"


# One node sync per namespace of Temporal: started idempotently by every worker.
SYNC_NODES_WORKFLOW_ID = "sync-nodes"


SYNC_NOW_SIGNAL = "sync_now"


SYNC_LAST_QUERY = "last_sync"


REMOVAL_PROGRESS_QUERY = "removal_progress"


def issue_token_workflow_id(token_id: str) -> str:
    return f"issue-token/{token_id}"


def device_removal_workflow_id(device_id: str) -> str:
    return f"device-removal/{device_id}"


class DevicesActivity(StrEnum):
    """Activity names of the device workflows (stand-ins in tests use the same names)."""

    ISSUE_NODE_TOKEN = "issue_node_token"  # noqa: S105 (a name, not a secret)
    CANCEL_JOIN_RUN = "cancel_join_run"
    DELETE_NODE = "delete_node"
    REVOKE_DEVICE_TOKENS = "revoke_device_tokens"
    SYNC_CLUSTER = "sync_cluster"


class IssueNodeTokenInput(ContractModel):
    """A join token for a node that may not be in the inventory (yet): device_id optional."""

    node_name: NodeName
    device_id: DeviceId | None = None
    token_id: str  # chosen by the API: the workflow ID and the stored row share it
    expires_at: datetime
    kubeedge_namespace: str = "kubeedge"
    description: ShortText | None = None


class DeviceRemovalInput(ContractModel):
    device_id: DeviceId
    node_name: KnownNodeName
    # The Edge API id of the inventory row, read by the API before the run starts: a
    # cancelled join deletes the row, and the node's security tokens must still be revoked.
    node_id: str | None = None
    kubeedge_namespace: str = "kubeedge"
    device_namespace: str = "default"


class RemovalStep(StrEnum):
    CANCEL_JOIN = "cancel_join"
    DELETE_DEVICE_RESOURCE = "delete_device_resource"
    DELETE_CONFIGMAP = "delete_configmap"
    DELETE_RBAC = "delete_rbac"
    DELETE_NODE = "delete_node"
    REVOKE_TOKENS = "revoke_tokens"
    DELETE_RECORD = "delete_record"


class NodeDeletion(StrEnum):
    DELETED = "deleted"
    ABSENT = "absent"
    NOT_EDGE = "not_edge"  # a Node without the edge role label is never ours to delete


class RevokeDeviceTokensInput(ContractModel):
    device_id: DeviceId
    node_name: KnownNodeName
    node_id: str | None = None
    # Where the node's MQTT Secret is; None (runs started before): the worker's setting.
    kubeedge_namespace: str | None = None


class RevokedTokens(ContractModel):
    join_tokens: int = 0
    node_tokens: int = 0


class RemovalFailure(ContractModel):
    step: RemovalStep
    error_type: str
    message: str


class RemovalProgress(ContractModel):
    device_id: str
    node_name: str
    stage: str
    finished: bool = False
    join_cancelled: bool = False
    steps_done: list[RemovalStep] = Field(default_factory=list)
    # In the CloudCore document's wording ("Device CRD deleted", ...), plus our own steps.
    actions_taken: list[str] = Field(default_factory=list)
    tokens_revoked: RevokedTokens = Field(default_factory=RevokedTokens)
    failure: RemovalFailure | None = None


class SyncNodesInput(ContractModel):
    interval_seconds: float = Field(default=30.0, gt=0)
    rounds_per_run: int = Field(default=200, ge=1)  # then continue-as-new
    kubeedge_namespace: str = "kubeedge"
    page_size: int = Field(default=500, ge=1, le=5000)


class SyncClusterInput(ContractModel):
    kubeedge_namespace: str = "kubeedge"
    page_size: int = Field(default=500, ge=1, le=5000)


class SyncSummary(ContractModel):
    observed_at: datetime
    nodes_seen: int
    pods_seen: int
    devices_updated: int
    tokens_used: int


# --- Activities the workflows call, as typed references ---
# Workflows may not import activities/ (I/O libraries), so they call these stubs: mypy
# checks each call's argument and result. tests/workers/test_activity_stubs.py checks
# them against what workers/worker.py registers under the same names.
@activity.defn(name=DevicesActivity.ISSUE_NODE_TOKEN)
async def issue_node_token(inp: IssueNodeTokenInput) -> IssuedJoinToken:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=DevicesActivity.CANCEL_JOIN_RUN)
async def cancel_join_run(inp: DeviceRef) -> bool:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=DevicesActivity.DELETE_NODE)
async def delete_node(inp: NodeRef) -> NodeDeletion:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=DevicesActivity.REVOKE_DEVICE_TOKENS)
async def revoke_device_tokens(inp: RevokeDeviceTokensInput) -> RevokedTokens:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=DevicesActivity.SYNC_CLUSTER)
async def sync_cluster(inp: SyncClusterInput) -> SyncSummary:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError
