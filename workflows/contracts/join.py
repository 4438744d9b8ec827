"""Device join and batch join: DeviceJoinWorkflow, BatchJoinWorkflow and their activities."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    Field,
)
from temporalio import activity

from workflows.contracts.common import (
    ConfigScalar,
    ContractModel,
    DeviceId,
    DeviceRef,
    NodeName,
    NodeRef,
    ObjectRef,
    ShortText,
    _dns1123_label,
)

# Names under which the workflows are registered; the API starts them by these names.
DEVICE_JOIN_WORKFLOW = "DeviceJoinWorkflow"


def device_join_workflow_id(device_id: str) -> str:
    return f"device-join/{device_id}"


def edgecore_configmap_name(node_name: str) -> str:
    return f"edgecore-config-{node_name}"


def edgecore_mqtt_secret_name(node_name: str) -> str:
    """The Secret beside the node's ConfigMap that holds its device's MQTT password."""
    return f"edgecore-mqtt-{node_name}"


class DeviceJoinInput(ContractModel):
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
    # The batch that started this join: the join writes its result in the batch's rows
    # once provisioning is done or has failed, and the batch reads them.
    batch_id: str | None = None


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
    ISSUE_MQTT_CREDENTIALS = "issue_mqtt_credentials"
    NOTIFY = "notify"
    WAIT_FOR_NODE = "wait_for_node"


class JoinSteps(ContractModel):
    """Which provisioning steps are done (the seed's `steps` block, plus ours)."""

    token_generated: bool = False
    configmap_created: bool = False
    device_crd_created: bool = False
    rbac_configured: bool = False
    inventory_recorded: bool = False
    notified: bool = False


class JoinFailure(ContractModel):
    step: JoinStep
    error_type: str
    message: str
    compensated: list[JoinStep] = Field(default_factory=list)


class JoinProgress(ContractModel):
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
    # The device's own MQTT account: user name (its device ID) and its password, sealed
    # like the token. None for runs started before devices had accounts.
    mqtt_username: str | None = None
    sealed_mqtt_password: str | None = None

    @property
    def provisioned(self) -> bool:
        return self.status not in (JoinStatus.PROVISIONING,)


# Message names on DeviceJoinWorkflow.
JOIN_PROGRESS_QUERY = "progress"


JOIN_PROVISIONED_UPDATE = "provisioned"


JOIN_NODE_READY_SIGNAL = "node_ready"


class JoinActivity(StrEnum):
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
    ISSUE_MQTT_CREDENTIALS = "issue_mqtt_credentials"
    REVOKE_MQTT_CREDENTIALS = "revoke_mqtt_credentials"
    READ_NODE_STATUS = "read_node_status"
    COMPLETE_JOIN = "complete_join"
    SET_DEVICE_STATUS = "set_device_status"
    # Every forward step of a join, in order, in one local activity (see ProvisionDeviceInput).
    PROVISION_DEVICE = "provision_device"


class IssueJoinTokenInput(ContractModel):
    device_id: DeviceId
    node_name: NodeName
    token_id: str  # deterministic per run (workflow.uuid4): a retried issue mints the same token
    expires_at: datetime
    kubeedge_namespace: str = "kubeedge"
    description: str | None = None


class IssuedJoinToken(ContractModel):
    token_id: str
    sealed_token: str
    expires_at: datetime


class TokenRef(ContractModel):
    token_id: str


class EdgecoreConfigMapInput(ContractModel):
    device_id: DeviceId
    node_name: NodeName
    namespace: str
    cloudcore_host: str
    cloudcore_port: int = Field(ge=1, le=65535)
    device_type: str | None = None
    location: str | None = None
    configuration: dict[str, ConfigScalar] = Field(default_factory=dict)


class DeviceResourceInput(ContractModel):
    device_id: DeviceId
    node_name: NodeName
    namespace: str
    device_type: str | None = None
    location: str | None = None


class NodeRbacInput(ContractModel):
    node_name: NodeName
    namespace: str


class DeviceRecordInput(ContractModel):
    device_id: DeviceId
    node_name: NodeName
    device_type: str | None = None
    location: str | None = None
    configuration: dict[str, ConfigScalar] = Field(default_factory=dict)
    status: str
    workflow_id: str


class MqttCredentialsInput(ContractModel):
    """The device's MQTT account, and the Secret beside its ConfigMap that holds it."""

    device_id: DeviceId
    node_name: NodeName
    namespace: str
    # Deterministic per run (workflow.uuid4): a retried issue derives the same password.
    credential_id: str


class IssuedMqttCredentials(ContractModel):
    username: str
    sealed_password: str


class DeviceStatusInput(ContractModel):
    device_id: DeviceId
    status: str


class NodeStatus(ContractModel):
    exists: bool
    ready: bool
    kubelet_version: str | None = None


class CompleteJoinInput(ContractModel):
    device_id: DeviceId
    node_name: NodeName
    token_id: str


BATCH_JOIN_WORKFLOW = "BatchJoinWorkflow"


BATCH_PROGRESS_QUERY = "progress"


BATCH_PAUSE_SIGNAL = "pause"


BATCH_RESUME_SIGNAL = "resume"


BATCH_CANCEL_SIGNAL = "cancel"


BatchId = Annotated[str, AfterValidator(_dns1123_label)]


def batch_join_workflow_id(batch_id: str) -> str:
    return f"batch-join/{batch_id}"


# A batch run's workflow task may replay its whole run (after an eviction from the
# worker's cache, or a failed task): room for that on a CPU-starved worker, where
# Temporal's default of 10 s timed out attempt after attempt (docs/scaling.md).
BATCH_TASK_TIMEOUT = timedelta(seconds=30)


class BatchActivity(StrEnum):
    LOAD_BATCH_PAGE = "load_batch_page"
    RECORD_BATCH_RESULTS = "record_batch_results"
    READ_BATCH_RESULTS = "read_batch_results"
    FINISH_BATCH = "finish_batch"
    CANCEL_BATCH_JOINS = "cancel_batch_joins"


class BatchJoinDefaults(ContractModel):
    """What every device of a batch shares; the per-device rest lives in the store."""

    cloudcore_host: str
    cloudcore_port: int = Field(ge=1, le=65535)
    token_ttl_seconds: int = Field(gt=0)
    kubeedge_version: str | None = None
    kubeedge_namespace: str = "kubeedge"
    device_namespace: str = "default"


class BatchStatus(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    CANCELLING = "cancelling"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class BatchState(ContractModel):
    """What a batch carries across continue-as-new."""

    cursor: int = 0  # position of the last device handed to a join
    succeeded: int = 0
    failed: int = 0
    in_flight: list[str] = Field(default_factory=list)
    paused: bool = False
    cancel_requested: bool = False
    started_at: datetime | None = None


class BatchJoinInput(ContractModel):
    batch_id: BatchId
    total: int = Field(ge=1)
    defaults: BatchJoinDefaults
    max_concurrency: int = Field(default=100, ge=1, le=1000)
    page_size: int = Field(default=200, ge=1, le=1000)
    # Joins of a batch look for their node rarely: the bridge's node_ready signal is the
    # fast path. Thousands of joins waiting for nodes that come online over hours would
    # otherwise poll more often than the batch provisions: at 60 s doubling to 5 min, the
    # polls of 10,000 waiting joins took more of the worker than provisioning did.
    node_poll_initial_seconds: float = Field(default=300.0, gt=0)
    node_poll_max_seconds: float = Field(default=1800.0, gt=0)
    # Continue-as-new once the history is this long, well below Temporal's limits.
    history_limit: int = Field(default=10_000, ge=100)
    # Continue-as-new after starting this many joins. A join stays a pending child of the
    # run that started it until its node joins or its token expires, and Temporal fails
    # the workflow task of a run with 2,000 pending children (limit.numPendingChildExecutions).
    # Each start is two events of about 2 KB (the join's input) that a worker replays when
    # the run left its cache: at 1,000 a run's replay outgrew its workflow task on a busy
    # worker and the batch stalled; 200 keeps a run near 500 events (docs/scaling.md).
    children_per_run: int = Field(default=200, ge=1, le=1900)
    # How often the batch reads its joins' results from the store while joins run.
    result_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    state: BatchState = Field(default_factory=BatchState)


class BatchDeviceSpec(ContractModel):
    position: int
    device_id: DeviceId
    node_name: NodeName
    device_type: ShortText | None = None
    location: ShortText | None = None
    configuration: dict[str, ConfigScalar] = Field(default_factory=dict)
    fingerprint: str


class LoadBatchPageInput(ContractModel):
    batch_id: str
    after_position: int
    limit: int


class BatchPage(ContractModel):
    devices: list[BatchDeviceSpec]


class BatchDeviceResult(ContractModel):
    device_id: str
    succeeded: bool
    failed_step: str | None = None
    error: str | None = None


class RecordBatchResultsInput(ContractModel):
    batch_id: str
    results: list[BatchDeviceResult]


class ReadBatchResultsInput(ContractModel):
    batch_id: str
    device_ids: list[str]


class BatchResults(ContractModel):
    """The results recorded so far for the devices asked about; the others are pending."""

    results: list[BatchDeviceResult]


class FinishBatchInput(ContractModel):
    batch_id: str
    status: BatchStatus
    succeeded: int
    failed: int


class CancelBatchJoinsInput(ContractModel):
    batch_id: str
    in_flight: list[str]


class BatchProgress(ContractModel):
    batch_id: str
    status: BatchStatus
    total: int
    done: int
    succeeded: int
    failed: int
    in_flight: int
    rate_per_minute: float | None = None
    eta_seconds: float | None = None


class ProvisionDeviceInput(ContractModel):
    """Each forward step's input, run in order by one local activity (provision_device).

    The same steps as one activity each, minus a task, a marker and a payload round trip
    per step: the worker's main cost per join. `batch_result` is written last, when a
    batch reads its joins' results from the store.
    """

    validate_join: DeviceRef
    token: IssueJoinTokenInput
    configmap: EdgecoreConfigMapInput
    device: DeviceResourceInput
    rbac: NodeRbacInput
    record: DeviceRecordInput
    notify: DeviceRef
    batch_result: RecordBatchResultsInput | None = None
    # None in the plans of runs started before devices had MQTT accounts.
    mqtt: MqttCredentialsInput | None = None


class StepFailure(ContractModel):
    step: JoinStep
    error_type: str
    message: str
    # False only when the step was refused for sure (non-retryable): it changed nothing.
    maybe_applied: bool


class ProvisionOutcome(ContractModel):
    """The steps done, in order, and the one that failed for good, if any."""

    done: list[JoinStep]
    token: IssuedJoinToken | None = None
    mqtt: IssuedMqttCredentials | None = None
    failure: StepFailure | None = None
    reported: bool = False  # the batch result was written (when the input carried one)


# --- Activities the workflows call, as typed references ---
# Workflows may not import activities/ (I/O libraries), so they call these stubs: mypy
# checks each call's argument and result. tests/workers/test_activity_stubs.py checks
# them against what workers/worker.py registers under the same names.
@activity.defn(name=JoinActivity.PROVISION_DEVICE)
async def provision_device(inp: ProvisionDeviceInput) -> ProvisionOutcome:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=JoinActivity.REVOKE_JOIN_TOKEN)
async def revoke_join_token(inp: TokenRef) -> None:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=JoinActivity.DELETE_EDGECORE_CONFIGMAP)
async def delete_edgecore_configmap(inp: ObjectRef) -> None:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=JoinActivity.DELETE_DEVICE_RESOURCE)
async def delete_device_resource(inp: ObjectRef) -> None:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=JoinActivity.DELETE_NODE_RBAC)
async def delete_node_rbac(inp: NodeRbacInput) -> None:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=JoinActivity.DELETE_DEVICE_RECORD)
async def delete_device_record(inp: DeviceRef) -> None:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=JoinActivity.REVOKE_MQTT_CREDENTIALS)
async def revoke_mqtt_credentials(inp: MqttCredentialsInput) -> None:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=JoinActivity.READ_NODE_STATUS)
async def read_node_status(inp: NodeRef) -> NodeStatus:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=JoinActivity.COMPLETE_JOIN)
async def complete_join(inp: CompleteJoinInput) -> None:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=BatchActivity.LOAD_BATCH_PAGE)
async def load_batch_page(inp: LoadBatchPageInput) -> BatchPage:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=BatchActivity.RECORD_BATCH_RESULTS)
async def record_batch_results(inp: RecordBatchResultsInput) -> None:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=BatchActivity.READ_BATCH_RESULTS)
async def read_batch_results(inp: ReadBatchResultsInput) -> BatchResults:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=BatchActivity.FINISH_BATCH)
async def finish_batch(inp: FinishBatchInput) -> None:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=BatchActivity.CANCEL_BATCH_JOINS)
async def cancel_batch_joins(inp: CancelBatchJoinsInput) -> int:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError
