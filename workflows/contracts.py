"""The shared vocabulary of edgewright's workflows.

Workflows, activities, workers and the API all import this module, and only this one, to
talk about a run: names, task queue, search attributes, IDs, and every input and output
model. The API starts workflows by name with these types and never imports a workflow
implementation.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from temporalio.client import (
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
)
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
    # The batch to tell once provisioning is done or has failed: by a signal to the
    # workflow `report_to`, or, when `report_in_store`, by writing the device's result in
    # the batch's rows, which the batch reads (a signal costs both runs a workflow task).
    report_to: str | None = None
    batch_id: str | None = None
    report_in_store: bool = False


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
    # Every forward step of a join, in order, in one local activity (see ProvisionDeviceInput).
    PROVISION_DEVICE = "provision_device"


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


# === Backup and restore (issue 7) ======================================================
# BackupWorkflow, RestoreWorkflow, their activities and the backup schedules. Activity
# names live in their own enum (BackupActivity) rather than in the shared `Activity`.

BACKUP_WORKFLOW = "BackupWorkflow"
RESTORE_WORKFLOW = "RestoreWorkflow"
BACKUP_PROGRESS_QUERY = "backup_progress"
RESTORE_PROGRESS_QUERY = "restore_progress"
# Failure types the workflows end with; the API maps them (and their details) to answers.
BACKUP_FAILED = "BackupFailed"
RESTORE_FAILED = "RestoreFailed"

# The archive layout this code writes. It reads this version and every older one, and
# refuses newer ones: it cannot know what a later layout means.
BACKUP_FORMAT = "edgewright-backup"
BACKUP_FORMAT_VERSION = 1

BACKUP_SCHEDULE_PREFIX = "backup-schedule/"
SCHEDULED_BACKUP_PREFIX = "scheduled-"
SAFETY_BACKUP_PREFIX = "safety-"

# Backup and restore IDs become workflow IDs, object keys and file names: keep them plain.
BackupId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]
ScheduleId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
_UNSAFE_ID_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]")


class BackupInclude(StrEnum):
    """What a backup may hold; the seed's `include` values plus commands and workloads."""

    CONFIG = "config"
    TOKENS = "tokens"  # archived as their hashes only: the tokens themselves are never stored
    DEVICES = "devices"  # inventory rows and their Kubernetes objects
    COMMANDS = "commands"
    WORKLOADS = "workloads"


ALL_INCLUDES: tuple[BackupInclude, ...] = tuple(BackupInclude)


class BackupKind(StrEnum):
    MANUAL = "manual"
    SCHEDULED = "scheduled"
    SAFETY = "safety"  # taken by a restore just before it changes anything


class BackupStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    PRUNED = "pruned"  # completed, then removed from storage by retention


class RestoreMode(StrEnum):
    MERGE = "merge"  # upsert the archive's rows and objects, leave everything else alone
    REPLACE = "replace"  # also delete rows and objects of the restored parts the archive lacks


class RestoreStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"  # refused or failed before anything changed
    ROLLED_BACK = "rolled_back"  # applying failed; the safety backup was put back
    CANCELLED = "cancelled"


class BackupErrorType(StrEnum):
    """`ApplicationError.type` of the final backup and restore failures."""

    ARCHIVE_MISSING = "ArchiveMissing"
    CHECKSUM_MISMATCH = "ChecksumMismatch"
    ARCHIVE_CORRUPT = "ArchiveCorrupt"
    FOREIGN_ARCHIVE = "ForeignArchive"
    UNSUPPORTED_FORMAT = "UnsupportedFormatVersion"
    RESTORE_CONFLICT = "RestoreConflict"
    STORAGE_NOT_FOUND = "StorageNotFound"
    STORAGE_FORBIDDEN = "StorageForbidden"
    STORAGE_REJECTED = "StorageRejected"
    STORAGE_CREDENTIALS = "StorageCredentialsMissing"
    INVALID_LOCATION = "InvalidBackupLocation"


class BackupActivity(StrEnum):
    CREATE_BACKUP_ARCHIVE = "create_backup_archive"  # export → archive → upload
    VERIFY_BACKUP_ARCHIVE = "verify_backup_archive"
    DISCARD_BACKUP_ARCHIVE = "discard_backup_archive"
    RECORD_BACKUP = "record_backup"
    PRUNE_BACKUPS = "prune_backups"
    INSPECT_BACKUP = "inspect_backup"  # download → verify → plan
    APPLY_BACKUP = "apply_backup"
    RECORD_RESTORE = "record_restore"


def backup_workflow_id(backup_id: str) -> str:
    return f"backup/{backup_id}"


def restore_workflow_id(restore_id: str) -> str:
    return f"restore/{restore_id}"


def backup_id_from_workflow_id(workflow_id: str) -> str:
    """The backup ID a run works on. Schedules append a timestamp to the action's ID
    (`backup/scheduled-default-2026-01-15T02:00:00Z`); its colons are dropped."""
    return _UNSAFE_ID_CHARACTERS.sub("", workflow_id.removeprefix("backup/"))


def safety_backup_id(restore_id: str) -> str:
    return f"{SAFETY_BACKUP_PREFIX}{restore_id}"


def backup_schedule_temporal_id(schedule_id: str) -> str:
    return f"{BACKUP_SCHEDULE_PREFIX}{schedule_id}"


class Retention(_Model):
    """Keep a backup while any rule keeps it (restic's `--keep-last` / `--keep-within`)."""

    keep_last: int = Field(default=0, ge=0, description="the newest N; 0: no count rule")
    keep_days: float = Field(default=0, ge=0, description="younger than N days; 0: no age rule")

    @property
    def prunes(self) -> bool:
        return bool(self.keep_last or self.keep_days)


class BackupInput(_Model):
    """The backup ID is not here: it follows from the workflow ID (`backup/{backup_id}`)."""

    kind: BackupKind = BackupKind.MANUAL
    include: tuple[BackupInclude, ...] = ALL_INCLUDES
    description: ShortText | None = None
    retention: Retention = Retention()
    requested_by: str | None = None
    # sha256 of the request: the same name with another body is a conflict, not a re-run.
    fingerprint: str | None = None
    schedule_id: str | None = None


class PartSummary(_Model):
    name: str
    include: BackupInclude
    source: Literal["table", "kubernetes"]
    count: int
    bytes: int
    sha256: str


class SkippedPart(_Model):
    name: str
    include: BackupInclude
    reason: str


class CreateArchiveInput(_Model):
    backup_id: BackupId
    kind: BackupKind
    include: tuple[BackupInclude, ...]
    description: str | None = None
    created_at: datetime


class ArchiveInfo(_Model):
    """An archive as it landed in object storage."""

    backup_id: BackupId
    location: str
    size_bytes: int
    sha256: str
    format_version: int
    multipart: bool = False
    parts: list[PartSummary] = Field(default_factory=list)
    skipped: list[SkippedPart] = Field(default_factory=list)


class ArchiveRef(_Model):
    backup_id: BackupId
    location: str | None = None  # None: where the configured location would put it
    size_bytes: int | None = None
    sha256: str | None = None


class BackupRecordInput(_Model):
    backup_id: BackupId
    kind: BackupKind
    status: BackupStatus
    include: tuple[BackupInclude, ...]
    description: str | None = None
    workflow_id: str
    created_at: datetime
    completed_at: datetime | None = None
    archive: ArchiveInfo | None = None
    error: str | None = None
    schedule_id: str | None = None


class PruneInput(_Model):
    """Retention counts the backups of one kind, and of one schedule for scheduled ones."""

    kind: BackupKind
    schedule_id: str | None = None
    retention: Retention
    now: datetime
    keep: list[str] = Field(default_factory=list)  # never pruned (the backup just made)


class PruneResult(_Model):
    pruned: list[str] = Field(default_factory=list)


class BackupProgress(_Model):
    """What a backup run says about itself: the progress query and its result."""

    backup_id: str
    kind: BackupKind
    status: BackupStatus
    stage: str
    include: tuple[BackupInclude, ...]
    description: str | None = None
    fingerprint: str | None = None
    workflow_id: str
    created_at: datetime
    completed_at: datetime | None = None
    archive: ArchiveInfo | None = None
    pruned: list[str] = Field(default_factory=list)
    prune_error: str | None = None
    error_type: str | None = None
    error: str | None = None


class PartChange(_Model):
    """What a restore does (or, in a dry run, would do) to one part."""

    name: str
    include: BackupInclude
    source: Literal["table", "kubernetes"]
    create: int = 0
    update: int = 0
    unchanged: int = 0
    delete: int = 0


class RestoreInput(_Model):
    backup_id: BackupId
    dry_run: bool = False
    mode: RestoreMode = RestoreMode.MERGE
    include: tuple[BackupInclude, ...] | None = None  # None: every part the archive holds
    safety_retention: Retention = Retention()
    requested_by: str | None = None
    fingerprint: str | None = None


class InspectInput(_Model):
    backup_id: BackupId
    include: tuple[BackupInclude, ...] | None = None
    mode: RestoreMode = RestoreMode.MERGE


class RestorePlan(_Model):
    """A verified archive and the changes restoring it would make right now."""

    backup_id: str
    location: str
    sha256: str
    size_bytes: int
    format_version: int
    archive_created_at: datetime
    include: tuple[BackupInclude, ...]
    changes: list[PartChange] = Field(default_factory=list)
    skipped: list[SkippedPart] = Field(default_factory=list)


class ApplyInput(_Model):
    backup_id: BackupId
    location: str
    sha256: str  # the bytes verified before: an archive changed since is refused
    include: tuple[BackupInclude, ...]
    mode: RestoreMode


class ApplyResult(_Model):
    changes: list[PartChange] = Field(default_factory=list)


class RestoreProgress(_Model):
    restore_id: str
    backup_id: str
    status: RestoreStatus
    stage: str
    dry_run: bool
    mode: RestoreMode
    fingerprint: str | None = None
    workflow_id: str
    started_at: datetime
    finished_at: datetime | None = None
    plan: RestorePlan | None = None
    applied: list[PartChange] = Field(default_factory=list)
    safety_backup_id: str | None = None
    rolled_back: bool = False
    error_type: str | None = None
    error: str | None = None


class BackupScheduleConfig(_Model):
    """A backup schedule as operators see it: when, what, and how long to keep."""

    cron: str | None = Field(default=None, max_length=200, description="UTC cron line")
    interval_seconds: int | None = Field(default=None, ge=1)
    include: tuple[BackupInclude, ...] = ALL_INCLUDES
    retention: Retention = Retention()
    paused: bool = False
    note: ShortText | None = None

    @model_validator(mode="after")
    def _one_trigger(self) -> BackupScheduleConfig:
        if (self.cron is None) == (self.interval_seconds is None):
            raise ValueError("give exactly one of cron and interval_seconds")
        return self


# Memo keys on a schedule's action: the configuration fingerprint the worker last applied,
# and the schedule as operators wrote it (Temporal answers cron lines as calendars).
SCHEDULE_CONFIG_MEMO = "edgewright_config_fingerprint"
SCHEDULE_SPEC_MEMO = "edgewright_schedule"


def backup_schedule(
    config: BackupScheduleConfig,
    *,
    schedule_id: str,
    task_queue: str,
    config_fingerprint: str | None = None,
) -> Schedule:
    """The Temporal Schedule for `config`; shared by the worker's bootstrap and the API."""
    if config.interval_seconds is not None:
        spec = ScheduleSpec(
            intervals=[ScheduleIntervalSpec(every=timedelta(seconds=config.interval_seconds))]
        )
    else:
        spec = ScheduleSpec(cron_expressions=[config.cron or ""])
    action = ScheduleActionStartWorkflow(
        BACKUP_WORKFLOW,
        BackupInput(
            kind=BackupKind.SCHEDULED,
            include=config.include,
            retention=config.retention,
            schedule_id=schedule_id,
            requested_by=f"schedule {schedule_id}",
        ),
        # Temporal appends the scheduled time, so each run gets its own backup ID.
        id=backup_workflow_id(f"{SCHEDULED_BACKUP_PREFIX}{schedule_id}"),
        task_queue=task_queue,
        execution_timeout=timedelta(days=1),
        memo={
            SCHEDULE_SPEC_MEMO: config.model_dump(mode="json"),
            **({SCHEDULE_CONFIG_MEMO: config_fingerprint} if config_fingerprint else {}),
        },
    )
    return Schedule(
        action=action,
        spec=spec,
        # A backup still running when the next one is due: skip the new one.
        policy=SchedulePolicy(
            overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(hours=1)
        ),
        state=ScheduleState(paused=config.paused, note=config.note),
    )


# === Inventory: tokens on demand, removal, node facts, CloudCore (issue 3) ===============
# IssueTokenWorkflow, DeviceRemovalWorkflow, SyncNodesWorkflow, CloudCoreDeployWorkflow and
# their activities. Activity names live in their own enum (InventoryActivity) rather than in
# the shared `Activity`; the removal also reuses the join's delete activities by name.

ISSUE_TOKEN_WORKFLOW = "IssueTokenWorkflow"  # noqa: S105 (a name, not a secret)
DEVICE_REMOVAL_WORKFLOW = "DeviceRemovalWorkflow"
SYNC_NODES_WORKFLOW = "SyncNodesWorkflow"
CLOUDCORE_DEPLOY_WORKFLOW = "CloudCoreDeployWorkflow"

# One node sync per namespace of Temporal: started idempotently by every worker.
SYNC_NODES_WORKFLOW_ID = "sync-nodes"
SYNC_NOW_SIGNAL = "sync_now"
SYNC_LAST_QUERY = "last_sync"
REMOVAL_PROGRESS_QUERY = "removal_progress"
DEPLOY_PROGRESS_QUERY = "deploy_progress"
# Failure types the workflows end with; the API maps them (and their details) to answers.
REMOVAL_FAILED = "RemovalFailed"
DEPLOY_FAILED = "CloudCoreDeployFailed"

# The label every edge node carries (ARCHITECTURE.md); only such Nodes are ever deleted.
EDGE_ROLE_LABEL = "node-role.kubernetes.io/edge"
NODE_ROLE_PREFIX = "node-role.kubernetes.io/"

KubeEdgeVersion = Annotated[str, StringConstraints(pattern=r"^v?\d{1,3}\.\d{1,3}\.\d{1,3}$")]
# A Kubernetes resource quantity ("500m", "512Mi", "1.5", "2G"); no exponents, no signs.
KubeQuantity = Annotated[
    str, StringConstraints(pattern=r"^\d{1,9}(\.\d{1,6})?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$")
]


def issue_token_workflow_id(token_id: str) -> str:
    return f"issue-token/{token_id}"


def device_removal_workflow_id(device_id: str) -> str:
    return f"device-removal/{device_id}"


def cloudcore_deploy_workflow_id(namespace: str) -> str:
    return f"cloudcore-deploy/{namespace}"


class InventoryActivity(StrEnum):
    """Activity names of the inventory workflows (stand-ins in tests use the same names)."""

    ISSUE_NODE_TOKEN = "issue_node_token"  # noqa: S105 (a name, not a secret)
    CANCEL_JOIN_RUN = "cancel_join_run"
    DELETE_NODE = "delete_node"
    REVOKE_DEVICE_TOKENS = "revoke_device_tokens"
    SYNC_CLUSTER = "sync_cluster"
    READ_CLOUDCORE = "read_cloudcore"
    APPLY_CLOUDCORE = "apply_cloudcore"
    READ_CLOUDCORE_ROLLOUT = "read_cloudcore_rollout"
    RESTORE_CLOUDCORE = "restore_cloudcore"
    SNAPSHOT_CLOUDCORE = "snapshot_cloudcore"


# --- IssueTokenWorkflow (POST /api/kubeedge/token/generate) ------------------------------


class IssueNodeTokenInput(_Model):
    """A join token for a node that may not be in the inventory (yet): device_id optional."""

    node_name: NodeName
    device_id: DeviceId | None = None
    token_id: str  # chosen by the API: the workflow ID and the stored row share it
    expires_at: datetime
    kubeedge_namespace: str = "kubeedge"
    description: ShortText | None = None


# --- DeviceRemovalWorkflow -----------------------------------------------------------------


class DeviceRemovalInput(_Model):
    device_id: DeviceId
    node_name: NodeName
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


class RevokeDeviceTokensInput(_Model):
    device_id: DeviceId
    node_name: NodeName
    node_id: str | None = None


class RevokedTokens(_Model):
    join_tokens: int = 0
    node_tokens: int = 0


class RemovalFailure(_Model):
    step: RemovalStep
    error_type: str
    message: str


class RemovalProgress(_Model):
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


# --- SyncNodesWorkflow ---------------------------------------------------------------------


class SyncNodesInput(_Model):
    interval_seconds: float = Field(default=30.0, gt=0)
    rounds_per_run: int = Field(default=200, ge=1)  # then continue-as-new
    kubeedge_namespace: str = "kubeedge"
    page_size: int = Field(default=500, ge=1, le=5000)


class SyncClusterInput(_Model):
    kubeedge_namespace: str = "kubeedge"
    page_size: int = Field(default=500, ge=1, le=5000)


class SyncSummary(_Model):
    observed_at: datetime
    nodes_seen: int
    pods_seen: int
    devices_updated: int
    tokens_used: int


# --- CloudCoreDeployWorkflow ---------------------------------------------------------------


class CloudCoreResources(_Model):
    cpu: KubeQuantity | None = None
    memory: KubeQuantity | None = None


class CloudCoreSpec(_Model):
    version: KubeEdgeVersion
    replicas: int = Field(default=1, ge=1, le=10)
    resources: CloudCoreResources = Field(default_factory=CloudCoreResources)


class CloudCoreTarget(_Model):
    namespace: str
    image_repository: str = "kubeedge/cloudcore"


class CloudCoreApplyInput(_Model):
    target: CloudCoreTarget
    spec: CloudCoreSpec


class CloudCoreState(_Model):
    """What was there before a deploy, so a failed rollout can put it back."""

    deployment_existed: bool
    service_existed: bool
    image: str | None = None
    replicas: int | None = None
    resources: dict[str, dict[str, str]] = Field(default_factory=dict)


class CloudCoreRestoreInput(_Model):
    target: CloudCoreTarget
    previous: CloudCoreState


class RolloutState(_Model):
    complete: bool
    failed: bool = False
    message: str
    desired: int = 0
    updated: int = 0
    available: int = 0


class DeployStatus(StrEnum):
    APPLYING = "applying"
    ROLLING_OUT = "rolling_out"
    SUCCEEDED = "succeeded"
    ROLLING_BACK = "rolling_back"
    ROLLED_BACK = "rolled_back"
    FAILED = "failed"  # and could not even be rolled back


class CloudCoreDeployInput(_Model):
    target: CloudCoreTarget
    spec: CloudCoreSpec
    fingerprint: str  # sha256 of the request: the same body attaches to a running deploy
    rollout_timeout_seconds: float = Field(gt=0)
    poll_seconds: float = Field(default=2.0, gt=0)


class CloudCoreDeployProgress(_Model):
    namespace: str
    version: str
    status: DeployStatus
    message: str
    fingerprint: str
    deployment_name: str = "cloudcore"
    created: bool = False  # no CloudCore Deployment existed before this run
    rollout: RolloutState | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


# === Commands, command jobs, broadcasts, connection tests, events (issue 4) ============
# CommandWorkflow and its relatives, the MQTT topic contract and the event bus vocabulary
# shared by the worker, the bridge, the API and the simulator. Activity names live in
# their own enum (CommandActivity), not in the shared `Activity`.

COMMAND_WORKFLOW = "CommandWorkflow"
COMMAND_JOB_WORKFLOW = "CommandJobWorkflow"
BROADCAST_WORKFLOW = "BroadcastCommandWorkflow"
CONNECTION_TEST_WORKFLOW = "ConnectionTestWorkflow"

# MQTT topic contract (ARCHITECTURE.md). Device IDs are DNS-1123 labels, so they can never
# smuggle '/', '+' or '#' into a topic.
DEVICE_TOPIC_PREFIX = "cloudcore/device"
BROADCAST_TOPIC = "cloudcore/broadcast/command"
ALERTS_TOPIC = "cloudcore/alerts"
# The internal event bus rides on the broker so every API replica sees every event.
EVENTS_TOPIC_PREFIX = "edgewright/events"


class DeviceTopic(StrEnum):
    COMMAND = "command"  # cloud -> device
    RESULT = "result"  # device -> cloud
    STATUS = "status"  # device -> cloud: heartbeats, and the last will {online: false}
    DETECTION = "detection"  # device -> cloud


def device_topic(device_id: str, kind: DeviceTopic) -> str:
    return f"{DEVICE_TOPIC_PREFIX}/{device_id}/{kind.value}"


def events_topic(event: str) -> str:
    return f"{EVENTS_TOPIC_PREFIX}/{event}"


class EventType(StrEnum):
    """Events on the bus; the SSE stream and the WebSocket serve them (seed shapes)."""

    DEVICE_PROVISIONED = "device_provisioned"
    NODE_JOINED = "node_joined"  # the WebSocket calls it device_joined
    DEVICE_ONLINE = "device_online"
    DEVICE_LEFT = "device_left"
    HEARTBEAT = "heartbeat"
    DETECTION = "detection"
    COMMAND_SENT = "command_sent"
    COMMAND_RESULT = "command_result"
    ALERT = "alert"


# Command and job IDs become workflow IDs and MQTT payload keys: plain characters only.
CommandId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")]
CommandName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]


def command_workflow_id(command_id: str) -> str:
    return f"command/{command_id}"


def command_job_workflow_id(job_id: str) -> str:
    return f"command-job/{job_id}"


def connection_test_workflow_id(test_id: str) -> str:
    return f"device-test/{test_id}"


def job_command_id(job_id: str, device_id: str) -> str:
    """The command a job sends one device: unique per job and device, so retried starts
    of the same child land on the same run."""
    return f"{job_id}.{device_id}"


class CommandState(StrEnum):
    QUEUED = "queued"  # accepted; not yet published (the device may be offline)
    SENT = "sent"  # published to the device; waiting for its result
    COMPLETED = "completed"  # the device answered success
    FAILED = "failed"  # the device answered failure, or could not be reached in time
    TIMED_OUT = "timed_out"  # sent, but no answer within `timeout`
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self not in (CommandState.QUEUED, CommandState.SENT)


# Message names on CommandWorkflow (and BroadcastCommandWorkflow, which shares them).
COMMAND_STATUS_QUERY = "status"
COMMAND_RESULT_SIGNAL = "device_result"
COMMAND_DEVICE_ONLINE_SIGNAL = "device_online"
COMMAND_ACCEPTED_UPDATE = "accepted"  # answers once sent, or once waiting for the device
COMMAND_FINISHED_UPDATE = "finished"  # answers once the command is in a final state
COMMAND_CANCEL_UPDATE = "cancel"


class CommandActivity(StrEnum):
    DISPATCH_COMMAND = "dispatch_command"
    RECORD_COMMAND = "record_command"
    RECORD_LATE_RESULT = "record_late_result"
    PUBLISH_BROADCAST = "publish_broadcast"
    COUNT_JOB_DEVICES = "count_job_devices"
    SELECT_JOB_DEVICES = "select_job_devices"


class CommandErrorType(StrEnum):
    UNKNOWN_DEVICE = "UnknownDevice"
    UNREACHABLE = "DeviceUnreachable"
    DEVICE_FAILED = "DeviceFailed"
    TIMED_OUT = "TimedOut"
    CANCELLED = "Cancelled"


class CommandInput(_Model):
    command_id: CommandId
    device_id: DeviceId
    command: CommandName
    parameters: dict[str, Any] = Field(default_factory=dict)
    # From the publish to the device's answer (the seed's `timeout`).
    timeout_seconds: float = Field(gt=0, le=24 * 3600)
    # How long an offline device may take to come online before the command fails.
    connect_timeout_seconds: float = Field(ge=0, le=7 * 24 * 3600)
    origin: str | None = None  # "job/{job_id}" or "test/{test_id}" for commands of a group
    fingerprint: str = ""  # sha256 of the request: same ID and body is the same command
    requested_by: str | None = None
    # Safety net beside the bridge's device_online signal: look at presence after this
    # long, then at doubling intervals.
    presence_poll_seconds: float = Field(default=10.0, gt=0)


class DeviceResult(_Model):
    """A device's answer on `cloudcore/device/{id}/result`, as the bridge passes it on."""

    command_id: str
    device_id: str
    success: bool
    result: Any = None
    error: str | None = None
    received_at: datetime


class CommandStatus(_Model):
    """What a command run says about itself: the status query, the updates, the result."""

    command_id: str
    device_id: str | None = None
    node_name: str | None = None
    device_type: str | None = None  # broadcasts target a type, not one device
    command: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    state: CommandState
    waiting_for_device: bool = False
    timeout_seconds: float
    connect_timeout_seconds: float = 0
    origin: str | None = None
    fingerprint: str = ""
    requested_by: str | None = None
    queued_at: datetime
    sent_at: datetime | None = None
    completed_at: datetime | None = None
    success: bool | None = None
    result: Any = None
    error: str | None = None
    error_type: str | None = None
    late_result: DeviceResult | None = None
    # Broadcasts: every device that answered (up to a cap) and how many did.
    answers: list[DeviceResult] = Field(default_factory=list)
    answered: int = 0

    @property
    def execution_seconds(self) -> float | None:
        if self.sent_at is None or self.completed_at is None:
            return None
        return max(0.0, (self.completed_at - self.sent_at).total_seconds())


class DispatchInput(_Model):
    """Publish the command if the device is known and online; record what happened."""

    status: CommandStatus


class DispatchOutcome(_Model):
    known: bool
    online: bool
    node_name: str | None = None
    sent_at: datetime | None = None


class LateResultInput(_Model):
    command_id: str
    result: DeviceResult


class BroadcastInput(_Model):
    command_id: CommandId
    device_type: ShortText
    command: CommandName
    parameters: dict[str, Any] = Field(default_factory=dict)
    # How long the broadcast collects answers.
    timeout_seconds: float = Field(gt=0, le=24 * 3600)
    fingerprint: str = ""
    requested_by: str | None = None
    max_answers: int = Field(default=1000, ge=0)


class BroadcastOutcome(_Model):
    sent_at: datetime
    # Devices of the type that were online when it went out: the answers to expect.
    expected: int


class DeviceSelection(_Model):
    """Which devices a job targets; both empty means every device in the inventory."""

    device_ids: list[DeviceId] | None = Field(default=None, max_length=100_000)
    device_type: ShortText | None = None


class JobPageInput(_Model):
    selection: DeviceSelection
    after: str | None = None  # device IDs are paged in order, after this one
    limit: int = Field(gt=0, le=10_000)


class JobState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    ABORTED = "aborted"  # stopped by the abort threshold or an abort signal
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in (JobState.COMPLETED, JobState.ABORTED, JobState.CANCELLED)


JOB_PROGRESS_QUERY = "progress"
JOB_PAUSE_SIGNAL = "pause"
JOB_RESUME_SIGNAL = "resume"
JOB_ABORT_SIGNAL = "abort"


class JobProgress(_Model):
    job_id: str
    command: str
    state: JobState
    total: int = 0
    started: int = 0
    in_flight: int = 0
    succeeded: int = 0
    failed: int = 0  # failed and timed out: what the abort threshold counts
    timed_out: int = 0
    cancelled: int = 0
    rate_per_minute: int
    abort_threshold_percent: float
    min_executed_for_abort: int
    abort_reason: str | None = None
    created_at: datetime
    finished_at: datetime | None = None
    runs: int = 1  # continue-as-new generations

    @property
    def executed(self) -> int:
        return self.succeeded + self.failed

    @property
    def failed_percent(self) -> float:
        return round(100.0 * self.failed / self.executed, 2) if self.executed else 0.0


class CommandJobInput(_Model):
    job_id: CommandId
    command: CommandName
    parameters: dict[str, Any] = Field(default_factory=dict)
    selection: DeviceSelection = DeviceSelection()
    rate_per_minute: int = Field(default=600, ge=1, le=100_000)
    timeout_seconds: float = Field(gt=0, le=24 * 3600)
    connect_timeout_seconds: float = Field(ge=0, le=7 * 24 * 3600)
    # Abort once at least `min_executed_for_abort` devices finished and this share failed.
    abort_threshold_percent: float = Field(default=100.0, gt=0, le=100)
    min_executed_for_abort: int = Field(default=10, ge=1)
    max_in_flight: int = Field(default=500, ge=1, le=5000)
    fingerprint: str = ""
    requested_by: str | None = None
    # Children one run starts before it continues as new (a few events each).
    continue_after: int = Field(default=2000, ge=1)
    # Set by continue-as-new: where the previous run stopped.
    carried: JobProgress | None = None
    cursor: str | None = None
    paused: bool = False


CONNECTION_TEST_PROGRESS_QUERY = "progress"


class ConnectionTestInput(_Model):
    test_id: CommandId
    device_id: DeviceId
    tests: list[CommandName] = Field(min_length=1, max_length=20)
    parameters: dict[str, dict[str, Any]] = Field(default_factory=dict)  # per test
    timeout_seconds: float = Field(gt=0, le=3600)
    connect_timeout_seconds: float = Field(ge=0, le=3600)
    fingerprint: str = ""
    requested_by: str | None = None


class CheckOutcome(_Model):
    name: str
    command_id: str
    state: CommandState
    success: bool | None = None
    result: Any = None
    error: str | None = None
    execution_seconds: float | None = None


class ConnectionTestProgress(_Model):
    test_id: str
    device_id: str
    state: Literal["running", "completed"]
    passed: int = 0
    failed: int = 0
    started_at: datetime
    finished_at: datetime | None = None
    results: list[CheckOutcome] = Field(default_factory=list)


# --- BatchJoinWorkflow -----------------------------------------------------------------

BATCH_JOIN_WORKFLOW = "BatchJoinWorkflow"
BATCH_PROGRESS_QUERY = "progress"
BATCH_PAUSE_SIGNAL = "pause"
BATCH_RESUME_SIGNAL = "resume"
BATCH_CANCEL_SIGNAL = "cancel"
# Sent by each DeviceJoinWorkflow a batch started, to the batch's workflow ID.
BATCH_DEVICE_PROVISIONED_SIGNAL = "device_provisioned"

BatchId = Annotated[str, AfterValidator(_dns1123_label)]


def batch_join_workflow_id(batch_id: str) -> str:
    return f"batch-join/{batch_id}"


class BatchActivity(StrEnum):
    LOAD_BATCH_PAGE = "load_batch_page"
    RECORD_BATCH_RESULTS = "record_batch_results"
    READ_BATCH_RESULTS = "read_batch_results"
    FINISH_BATCH = "finish_batch"
    CANCEL_BATCH_JOINS = "cancel_batch_joins"


class BatchJoinDefaults(_Model):
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


class BatchState(_Model):
    """What a batch carries across continue-as-new."""

    cursor: int = 0  # position of the last device handed to a join
    succeeded: int = 0
    failed: int = 0
    in_flight: list[str] = Field(default_factory=list)
    paused: bool = False
    cancel_requested: bool = False
    started_at: datetime | None = None


class BatchJoinInput(_Model):
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
    children_per_run: int = Field(default=1000, ge=1, le=1900)
    # How often the batch reads its joins' results from the store while joins run.
    result_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    state: BatchState = Field(default_factory=BatchState)


class BatchDeviceSpec(_Model):
    position: int
    device_id: DeviceId
    node_name: NodeName
    device_type: ShortText | None = None
    location: ShortText | None = None
    configuration: dict[str, ConfigScalar] = Field(default_factory=dict)
    fingerprint: str


class LoadBatchPageInput(_Model):
    batch_id: str
    after_position: int
    limit: int


class BatchPage(_Model):
    devices: list[BatchDeviceSpec]


class BatchDeviceResult(_Model):
    device_id: str
    succeeded: bool
    failed_step: str | None = None
    error: str | None = None


class RecordBatchResultsInput(_Model):
    batch_id: str
    results: list[BatchDeviceResult]


class ReadBatchResultsInput(_Model):
    batch_id: str
    device_ids: list[str]


class BatchResults(_Model):
    """The results recorded so far for the devices asked about; the others are pending."""

    results: list[BatchDeviceResult]


class FinishBatchInput(_Model):
    batch_id: str
    status: BatchStatus
    succeeded: int
    failed: int


class CancelBatchJoinsInput(_Model):
    batch_id: str
    in_flight: list[str]


class BatchProgress(_Model):
    batch_id: str
    status: BatchStatus
    total: int
    done: int
    succeeded: int
    failed: int
    in_flight: int
    rate_per_minute: float | None = None
    eta_seconds: float | None = None


# --- a join's forward steps in one local activity ----------------------------------------


class ProvisionDeviceInput(_Model):
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


class StepFailure(_Model):
    step: JoinStep
    error_type: str
    message: str
    # False only when the step was refused for sure (non-retryable): it changed nothing.
    maybe_applied: bool


class ProvisionOutcome(_Model):
    """The steps done, in order, and the one that failed for good, if any."""

    done: list[JoinStep]
    token: IssuedJoinToken | None = None
    failure: StepFailure | None = None
    reported: bool = False  # the batch result was written (when the input carried one)
