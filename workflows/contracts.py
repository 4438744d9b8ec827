"""The shared vocabulary of edgewright's workflows.

Workflows, activities, workers and the API all import this module, and only this one, to
talk about a run: names, task queue, search attributes, IDs, and every input and output
model. The API starts workflows by name with these types and never imports a workflow
implementation.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from temporalio.common import SearchAttributeKey

TASK_QUEUE = "edgewright"

# Names under which the workflows are registered; the API starts them by these names.
DEVICE_JOIN_WORKFLOW = "DeviceJoinWorkflow"

# Search attributes every run sets so operators can find it in the Temporal UI.
DEVICE_ID = SearchAttributeKey.for_keyword("DeviceId")
NODE_NAME = SearchAttributeKey.for_keyword("NodeName")
BATCH_ID = SearchAttributeKey.for_keyword("BatchId")
COMMAND_ID = SearchAttributeKey.for_keyword("CommandId")
WORKLOAD_ID = SearchAttributeKey.for_keyword("WorkloadId")
STAGE = SearchAttributeKey.for_keyword("Stage")
SEARCH_ATTRIBUTES = (DEVICE_ID, NODE_NAME, BATCH_ID, COMMAND_ID, WORKLOAD_ID, STAGE)

# Labels on every Kubernetes object edgewright creates, so it can find and clean them up.
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "edgewright"
DEVICE_LABEL = "edgewright.io/device-id"
NODE_LABEL = "edgewright.io/node-name"

# --- validated identifiers -------------------------------------------------------------

DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _dns1123_subdomain(value: str) -> str:
    if not (0 < len(value) <= 253 and DNS1123_SUBDOMAIN.match(value)):
        raise ValueError(
            "must be a DNS-1123 name: at most 253 lowercase letters, digits, '-' or '.', "
            "starting and ending with a letter or digit"
        )
    return value


def _dns1123_label(value: str) -> str:
    if not (0 < len(value) <= 63 and DNS1123_LABEL.match(value)):
        raise ValueError(
            "must be a DNS-1123 label: at most 63 lowercase letters, digits or '-', "
            "starting and ending with a letter or digit"
        )
    return value


# Node names become Kubernetes object names and `keadm --edgenode-name`: DNS-1123 subdomain.
NodeName = Annotated[str, AfterValidator(_dns1123_subdomain)]
# Device IDs name the Device custom resource, MQTT topics and workflow IDs; a DNS-1123
# label keeps them safe in all three ('/', '+', '#' and spaces are impossible).
DeviceId = Annotated[str, AfterValidator(_dns1123_label)]
ShortText = Annotated[str, StringConstraints(max_length=200)]
ConfigScalar = str | int | float | bool


def device_join_workflow_id(device_id: str) -> str:
    return f"device-join/{device_id}"


def edgecore_configmap_name(node_name: str) -> str:
    return f"edgecore-config-{node_name}"


# --- DeviceJoinWorkflow ----------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DeviceJoinInput(_Model):
    device_id: DeviceId
    node_name: NodeName
    cloudcore_host: str
    cloudcore_port: int = Field(ge=1, le=65535)
    device_type: ShortText | None = None
    location: ShortText | None = None
    configuration: dict[str, ConfigScalar] = Field(default_factory=dict)
    token_ttl_seconds: int = Field(gt=0)
    kubeedge_version: str | None = None
    kubeedge_namespace: str = "kubeedge"
    device_namespace: str = "default"
    # sha256 of the request that started the run: a second request with the same
    # device_id but another body is a conflict, the same body is the same run.
    fingerprint: str
    # How often to look for the Node while waiting, growing up to the maximum.
    node_poll_initial_seconds: float = Field(default=2.0, gt=0)
    node_poll_max_seconds: float = Field(default=300.0, gt=0)


class JoinStatus(StrEnum):
    PROVISIONING = "provisioning"
    WAITING_FOR_NODE = "waiting_for_node"
    JOINED = "joined"
    EXPIRED = "expired"
    FAILED = "failed"
    CANCELLED = "cancelled"


class JoinStep(StrEnum):
    """The saga's steps, in order; each one but the last two has a compensation."""

    VALIDATE = "validate"
    ISSUE_TOKEN = "issue_token"  # noqa: S105 (a step name, not a secret)
    CREATE_CONFIGMAP = "create_configmap"
    CREATE_DEVICE = "create_device"
    CONFIGURE_RBAC = "configure_rbac"
    RECORD_INVENTORY = "record_inventory"
    NOTIFY = "notify"
    WAIT_FOR_NODE = "wait_for_node"


class JoinSteps(_Model):
    """Which provisioning steps are done (the seed's `steps` block, plus ours)."""

    token_generated: bool = False
    configmap_created: bool = False
    device_crd_created: bool = False
    rbac_configured: bool = False
    inventory_recorded: bool = False
    notified: bool = False


class JoinFailure(_Model):
    step: JoinStep
    error_type: str
    message: str
    compensated: list[JoinStep] = Field(default_factory=list)


class JoinProgress(_Model):
    """What the run says about itself: the progress query and the provisioning update."""

    device_id: str
    node_name: str
    status: JoinStatus
    stage: str
    steps: JoinSteps
    fingerprint: str
    configmap_name: str | None = None
    device_resource_name: str | None = None
    # The join token leaves the worker sealed (Fernet, key from EDGEWRIGHT_SECRET_KEY) so
    # Temporal history and the Web UI never hold it in clear.
    sealed_token: str | None = None
    token_expires_at: datetime | None = None
    cloudcore_host: str | None = None
    cloudcore_port: int | None = None
    kubeedge_version: str | None = None
    node_ready_at: datetime | None = None
    failure: JoinFailure | None = None

    @property
    def provisioned(self) -> bool:
        return self.status not in (JoinStatus.PROVISIONING,)


# Message names on DeviceJoinWorkflow.
JOIN_PROGRESS_QUERY = "progress"
JOIN_PROVISIONED_UPDATE = "provisioned"
JOIN_NODE_READY_SIGNAL = "node_ready"


# --- activity contracts ----------------------------------------------------------------


class Activity(StrEnum):
    """Registered activity names; workflow tests register stand-ins under the same names."""

    VALIDATE_JOIN = "validate_join"
    ISSUE_JOIN_TOKEN = "issue_join_token"  # noqa: S105
    REVOKE_JOIN_TOKEN = "revoke_join_token"  # noqa: S105
    APPLY_EDGECORE_CONFIGMAP = "apply_edgecore_configmap"
    DELETE_EDGECORE_CONFIGMAP = "delete_edgecore_configmap"
    APPLY_DEVICE_RESOURCE = "apply_device_resource"
    DELETE_DEVICE_RESOURCE = "delete_device_resource"
    APPLY_NODE_RBAC = "apply_node_rbac"
    DELETE_NODE_RBAC = "delete_node_rbac"
    RECORD_DEVICE = "record_device"
    DELETE_DEVICE_RECORD = "delete_device_record"
    NOTIFY_DEVICE_PROVISIONED = "notify_device_provisioned"
    READ_NODE_STATUS = "read_node_status"
    COMPLETE_JOIN = "complete_join"
    SET_DEVICE_STATUS = "set_device_status"


class ErrorType(StrEnum):
    """`ApplicationError.type` values; everything here but the transient ones is final."""

    INVALID = "Invalid"
    CONFLICT = "Conflict"
    NOT_FOUND = "NotFound"
    FORBIDDEN = "Forbidden"
    UNAUTHORIZED = "Unauthorized"
    KUBE_REJECTED = "KubernetesRejected"
    MISSING_CLUSTER_CA = "MissingClusterCA"


class DeviceRef(_Model):
    device_id: DeviceId
    node_name: NodeName


class IssueJoinTokenInput(_Model):
    device_id: DeviceId
    node_name: NodeName
    token_id: str  # deterministic per run (workflow.uuid4): a retried issue mints the same token
    expires_at: datetime
    kubeedge_namespace: str = "kubeedge"
    description: str | None = None


class IssuedJoinToken(_Model):
    token_id: str
    sealed_token: str
    expires_at: datetime


class TokenRef(_Model):
    token_id: str


class EdgecoreConfigMapInput(_Model):
    device_id: DeviceId
    node_name: NodeName
    namespace: str
    cloudcore_host: str
    cloudcore_port: int = Field(ge=1, le=65535)
    device_type: str | None = None
    location: str | None = None
    configuration: dict[str, ConfigScalar] = Field(default_factory=dict)


class ObjectRef(_Model):
    namespace: str
    name: str


class DeviceResourceInput(_Model):
    device_id: DeviceId
    node_name: NodeName
    namespace: str
    device_type: str | None = None
    location: str | None = None


class NodeRbacInput(_Model):
    node_name: NodeName
    namespace: str


class DeviceRecordInput(_Model):
    device_id: DeviceId
    node_name: NodeName
    device_type: str | None = None
    location: str | None = None
    configuration: dict[str, ConfigScalar] = Field(default_factory=dict)
    status: str
    workflow_id: str


class DeviceStatusInput(_Model):
    device_id: DeviceId
    status: str


class NodeStatus(_Model):
    exists: bool
    ready: bool
    kubelet_version: str | None = None


class NodeRef(_Model):
    node_name: NodeName


class CompleteJoinInput(_Model):
    device_id: DeviceId
    node_name: NodeName
    token_id: str
