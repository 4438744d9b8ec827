"""SQLAlchemy 2 models: the inventory, join tokens, users and component health."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Integer primary keys are 32-bit on PostgreSQL: an id past this can name no row, and
# binding it fails in the driver. Callers refuse such ids before they reach a query.
MAX_ROW_ID = 2**31 - 1


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_user_uid() -> str:
    """A user's opaque, never-reused identity: what login tokens are bound to."""
    return str(uuid.uuid4())


def new_node_id() -> str:
    """The opaque node id the Edge API shows (`/api/v1/nodes/{id}`)."""
    return str(uuid.uuid4())


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use UTC-aware ones")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}


class User(Base):
    __tablename__ = "users"
    # AUTOINCREMENT: SQLite would otherwise give a deleted user's id to the next user
    # (migration 0009_user_uid); PostgreSQL's sequence never reuses one.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True, default=new_user_uid)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    disabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Device(Base):
    """One edge device and the node it runs as; both contracts are views of this table."""

    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(String(63), unique=True)
    node_name: Mapped[str] = mapped_column(String(253), unique=True)
    device_type: Mapped[str | None] = mapped_column(String(200))
    location: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(32), index=True)
    configuration: Mapped[dict[str, Any]] = mapped_column(default=dict)
    workflow_id: Mapped[str | None] = mapped_column(String(300))
    last_seen: Mapped[datetime | None]
    joined_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # --- inventory views (migration 0004_inventory) ---------------------------------
    # The Edge API's node: its opaque id, what was registered, and what it reports.
    node_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_node_id)
    address: Mapped[str | None] = mapped_column(String(253))
    capabilities: Mapped[list[str] | None] = mapped_column(JSON)
    resources: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    labels: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reported_status: Mapped[str | None] = mapped_column(String(32))
    usage: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    usage_reported_at: Mapped[datetime | None]
    # What the worker last read of the Node and its pods (SyncNodesWorkflow); the API never
    # asks Kubernetes. node_ready is None when no Node of that name exists.
    node_ready: Mapped[bool | None]
    node_roles: Mapped[list[str] | None] = mapped_column(JSON)
    node_version: Mapped[str | None] = mapped_column(String(100))
    node_addresses: Mapped[list[dict[str, str]] | None] = mapped_column(JSON)
    node_pods: Mapped[int | None]
    node_apps: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    node_created_at: Mapped[datetime | None]
    node_ready_since: Mapped[datetime | None]
    node_heartbeat_at: Mapped[datetime | None]
    node_synced_at: Mapped[datetime | None]
    # --- presence over MQTT (migration 0006_commands) ---------------------------------
    # Kept by the bridge (workers.bridge) from status heartbeats and last wills: whether
    # the device is connected now, when it last sent a heartbeat, and what that said.
    presence_online: Mapped[bool] = mapped_column(default=False)
    presence_heartbeat_at: Mapped[datetime | None]
    presence_usage: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class JoinToken(Base):
    """A per-node KubeEdge join token. Only its sha256 is kept; the token itself never is."""

    __tablename__ = "join_tokens"
    __table_args__ = (Index("ix_join_tokens_node", "node_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_id: Mapped[str] = mapped_column(String(64), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    node_name: Mapped[str] = mapped_column(String(253))
    device_id: Mapped[str | None] = mapped_column(String(63))
    description: Mapped[str | None] = mapped_column(String(200))
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MqttCredential(Base):
    """A device's own MQTT account. Only the password's sha256 is kept (the broker keeps
    its own salted hash, the node's Secret the password)."""

    __tablename__ = "mqtt_credentials"

    device_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    username: Mapped[str] = mapped_column(String(63))
    password_hash: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)


class Lease(Base):
    """A role only one process may hold at a time (the bridge's durable MQTT session)."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(String(300))
    expires_at: Mapped[datetime]


class ComponentHealth(Base):
    """What the worker last saw of the systems it drives (Kubernetes, MQTT)."""

    __tablename__ = "component_health"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(32))
    mode: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text)
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)


class RuntimeConfigRow(Base):
    """Operator-set configuration as one JSON document per key (see store.runtime_config)."""

    __tablename__ = "runtime_config"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """An API key for scripts and services. Only the sha256 of its secret is kept."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The public part of the key ("ewk_" + hex), safe to show and log; the lookup key.
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    # Who created it, as a name rather than a foreign key: the record outlives the user.
    created_by: Mapped[str | None] = mapped_column(String(100))
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RevokedToken(Base):
    """A login JWT revoked before its expiry (logout); kept only until it would expire."""

    __tablename__ = "revoked_tokens"
    __table_args__ = (Index("ix_revoked_tokens_expires_at", "expires_at"),)

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime] = mapped_column(default=utcnow)


class BackupRow(Base):
    """One backup archive: what it holds, where it lies, and how its run ended."""

    __tablename__ = "backups"
    __table_args__ = (Index("ix_backups_kind_status_created", "kind", "status", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    backup_id: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    include: Mapped[list[str]] = mapped_column(JSON)
    description: Mapped[str | None] = mapped_column(String(200))
    location: Mapped[str | None] = mapped_column(String(1024))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    format_version: Mapped[int | None]
    # {"parts": [{name, include, source, count, bytes, sha256}], "skipped": [{name, reason}]}
    contents: Mapped[dict[str, Any]] = mapped_column(default=dict)
    multipart: Mapped[bool] = mapped_column(default=False)
    schedule_id: Mapped[str | None] = mapped_column(String(63))  # scheduled backups only
    workflow_id: Mapped[str] = mapped_column(String(300))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    pruned_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RestoreRow(Base):
    """One restore (or dry run): the plan it verified, what it changed, how it ended."""

    __tablename__ = "restores"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    restore_id: Mapped[str] = mapped_column(String(128), unique=True)
    backup_id: Mapped[str] = mapped_column(String(128), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    dry_run: Mapped[bool] = mapped_column(default=False)
    mode: Mapped[str] = mapped_column(String(16))
    plan: Mapped[dict[str, Any] | None]
    applied: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    safety_backup_id: Mapped[str | None] = mapped_column(String(160))
    rolled_back: Mapped[bool] = mapped_column(default=False)
    # What undoing a failed restore did: {"restored", "unchanged", "kept": [...]}.
    rollback: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error_type: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    workflow_id: Mapped[str] = mapped_column(String(300))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RestoreJournalRow(Base):
    """One change a restore made: the row or object before it and as the restore left it.

    Appended in the transaction of the change itself (for Kubernetes objects, just before
    it), so a rollback undoes exactly what the restore did, newest first, and nothing a
    third party wrote meanwhile. `outcome` is set when the entry has been undone.
    """

    __tablename__ = "restore_journal"
    __table_args__ = (Index("ix_restore_journal_restore_outcome", "restore_id", "outcome"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # the order of the changes
    restore_id: Mapped[str] = mapped_column(String(128))
    part: Mapped[str] = mapped_column(String(64))  # a backup part: table or object kind
    key: Mapped[list[Any]] = mapped_column(JSON)  # business key, or [namespace, name]
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # None: it did not exist
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # None: the restore deleted it
    outcome: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- inventory: node security tokens and what the worker observed --------------


class NodeToken(Base):
    """An Edge API security token for one node. Only its sha256 is kept."""

    __tablename__ = "node_tokens"
    __table_args__ = (Index("ix_node_tokens_node_id", "node_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_id: Mapped[str] = mapped_column(String(64), unique=True)  # the JWT's jti
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    node_id: Mapped[str] = mapped_column(String(36))
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ObservedState(Base):
    """A JSON snapshot the worker read from the cluster (CloudCore, cluster counts)."""

    __tablename__ = "observed_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]]
    observed_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- commands ----------------------------------------------------------------------------


class CommandRow(Base):
    """One command to a device (or a broadcast to a device type) and how it ended.

    CommandWorkflow writes it when the command is queued, sent and finished; the API reads
    it once the run is over. A result that arrives after the command timed out is kept in
    `late_result` and never changes `status`.
    """

    __tablename__ = "commands"
    __table_args__ = (
        Index("ix_commands_device_status", "device_id", "status"),
        Index("ix_commands_origin", "origin"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    command_id: Mapped[str] = mapped_column(String(100), unique=True)
    device_id: Mapped[str | None] = mapped_column(String(63))
    node_name: Mapped[str | None] = mapped_column(String(253))
    device_type: Mapped[str | None] = mapped_column(String(200))
    command: Mapped[str] = mapped_column(String(64))
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16))
    origin: Mapped[str | None] = mapped_column(String(120))  # "job/{id}", "test/{id}"
    success: Mapped[bool | None]
    result: Mapped[Any] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text)
    error_type: Mapped[str | None] = mapped_column(String(32))
    answered: Mapped[int] = mapped_column(default=0)  # broadcasts: devices that answered
    timeout_seconds: Mapped[float]
    connect_timeout_seconds: Mapped[float] = mapped_column(default=0.0)
    requested_by: Mapped[str | None] = mapped_column(String(100))
    workflow_id: Mapped[str] = mapped_column(String(300))
    queued_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    late_result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    late_result_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Batch(Base):
    """A batch join: its devices are in batch_devices, its run is batch-join/{batch_id}."""

    __tablename__ = "batches"

    batch_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    total: Mapped[int]
    succeeded: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class BatchDevice(Base):
    """One device of a batch, with what the batch did for it."""

    __tablename__ = "batch_devices"
    __table_args__ = (Index("ix_batch_devices_device", "batch_id", "device_id", unique=True),)

    batch_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(String(63))
    node_name: Mapped[str] = mapped_column(String(253))
    device_type: Mapped[str | None] = mapped_column(String(200))
    location: Mapped[str | None] = mapped_column(String(200))
    configuration: Mapped[dict[str, Any]] = mapped_column(default=dict)
    fingerprint: Mapped[str] = mapped_column(String(64))
    result: Mapped[str] = mapped_column(String(16), default="pending")
    failed_step: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)


class Workload(Base):
    """A workload definition; its revisions are in workload_revisions."""

    __tablename__ = "workloads"
    __table_args__ = (Index("ix_workloads_namespace_name", "namespace", "name", unique=True),)

    workload_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    namespace: Mapped[str] = mapped_column(String(63))
    kind: Mapped[str] = mapped_column(String(16))
    # `v1` (/api/v1/workloads) or `apps` (/api/kubeedge/apps): one model, two views.
    source: Mapped[str] = mapped_column(String(8))
    revision: Mapped[int]  # the newest revision (a PUT adds one)
    deployed_revision: Mapped[int | None]  # what the last completed rollout left running
    # created / deploying / running / failed / rolled_back / updating / deleting
    status: Mapped[str] = mapped_column(String(16))
    target_nodes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WorkloadRevision(Base):
    """One revision's full spec (a WorkloadSpec), kept so rollbacks can re-apply it."""

    __tablename__ = "workload_revisions"

    workload_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, primary_key=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Rollout(Base):
    """One rollout run (`rollout/{workload_id}/{revision}`); its ID is the deployment ID."""

    __tablename__ = "rollouts"
    __table_args__ = (Index("ix_rollouts_workload", "workload_id", "revision"),)

    rollout_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    workload_id: Mapped[str] = mapped_column(String(36))
    revision: Mapped[int]
    workflow_id: Mapped[str] = mapped_column(String(120))
    state: Mapped[str] = mapped_column(String(16))  # a RolloutState
    strategy: Mapped[dict[str, Any]] = mapped_column(JSON)
    target_nodes: Mapped[list[str]] = mapped_column(JSON, default=list)
    progress: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # last RolloutProgress
    error: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[str | None] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class WorkloadNode(Base):
    """Which revision of a workload runs on a node, as the last rollout left it."""

    __tablename__ = "workload_nodes"

    workload_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    node_name: Mapped[str] = mapped_column(String(253), primary_key=True)
    revision: Mapped[int]
    state: Mapped[str] = mapped_column(String(16))  # a NodeOutcome
    # The per-device Service port (apps), stable across revisions.
    service_port: Mapped[int | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Webhook(Base):
    """A receiver of events. The signing secret is sealed under the root secret
    (store.sealing): the API never answers it, the worker unseals it to sign."""

    __tablename__ = "webhooks"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    events: Mapped[list[str]] = mapped_column(JSON)
    secret_sealed: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(300))
    # Since when every attempt failed; a success clears it. Too long: disabled.
    failing_since: Mapped[datetime | None]
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WebhookDelivery(Base):
    """One event for one webhook (a WebhookDelivery run), as its attempts left it."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_webhook", "webhook_id", "created_at"),)

    delivery_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    webhook_id: Mapped[str] = mapped_column(String(40))
    event: Mapped[str] = mapped_column(String(40))
    event_id: Mapped[str] = mapped_column(String(300))
    occurred_at: Mapped[datetime]
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))  # a DeliveryStatus
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    last_response: Mapped[str | None] = mapped_column(Text)  # at most 1 KiB of the body
    last_attempt_at: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# --- monitoring: metric samples and their rollups ---------------------------------------

# What a sample measures: heartbeats and POST /api/v1/metrics/nodes/{id} fill the same
# columns (store.monitoring.values). Units as the Edge API's body: percent for CPU, GB for
# memory and disk, degrees Celsius, cumulative bytes for the network counters.
METRICS = (
    "cpu_usage",
    "memory_usage",
    "memory_total",
    "disk_usage",
    "disk_total",
    "temperature",
    "rx_bytes",
    "tx_bytes",
)


class MetricSample(Base):
    """One raw sample of one node, kept for hours (store.monitoring.compaction prunes).

    Times are epoch seconds: bucketing is then `ts - ts % width` on every backend, and the
    key is 12 bytes smaller than a timestamp with zone. Keyed by the node's opaque id,
    which is never reused, so a removed node's history is never another node's.
    """

    __tablename__ = "metric_samples"
    __table_args__ = (Index("ix_metric_samples_ts", "ts"),)

    node_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    ts: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    cpu_usage: Mapped[float | None]
    memory_usage: Mapped[float | None]
    memory_total: Mapped[float | None]
    disk_usage: Mapped[float | None]
    disk_total: Mapped[float | None]
    temperature: Mapped[float | None]
    rx_bytes: Mapped[float | None]
    tx_bytes: Mapped[float | None]
    containers: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)


class MetricRollup(Base):
    """One node's samples over one bucket of `width` seconds (60, 300 or 3600).

    Sums and counts, not averages, so a wider bucket is summed exactly from narrower ones
    and a node that reports a metric only sometimes still averages right.
    """

    __tablename__ = "metric_rollups"
    __table_args__ = (Index("ix_metric_rollups_width_bucket", "width", "bucket"),)

    width: Mapped[int] = mapped_column(Integer, primary_key=True)
    node_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    cpu_usage_sum: Mapped[float | None]
    cpu_usage_n: Mapped[int] = mapped_column(default=0)
    memory_usage_sum: Mapped[float | None]
    memory_usage_n: Mapped[int] = mapped_column(default=0)
    memory_total_sum: Mapped[float | None]
    memory_total_n: Mapped[int] = mapped_column(default=0)
    disk_usage_sum: Mapped[float | None]
    disk_usage_n: Mapped[int] = mapped_column(default=0)
    disk_total_sum: Mapped[float | None]
    disk_total_n: Mapped[int] = mapped_column(default=0)
    temperature_sum: Mapped[float | None]
    temperature_n: Mapped[int] = mapped_column(default=0)
    rx_bytes_sum: Mapped[float | None]
    rx_bytes_n: Mapped[int] = mapped_column(default=0)
    tx_bytes_sum: Mapped[float | None]
    tx_bytes_n: Mapped[int] = mapped_column(default=0)


class MetricCompaction(Base):
    """How far the rollups are complete, and where late samples ask to recompute from.

    One row (`name` "rollups"). Queries read rollups before `compacted_until` and raw
    samples after it. A sample written behind `compacted_until` lowers `recompute_from`
    and bumps `late_seq`; the next compaction recomputes from there and clears it only if
    no other late sample came meanwhile.
    """

    __tablename__ = "metric_compaction"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    compacted_until: Mapped[int] = mapped_column(BigInteger, default=0)
    recompute_from: Mapped[int | None] = mapped_column(BigInteger)
    late_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DetectionCount(Base):
    """Detections a device reported per UTC day, counted by the bridge in batches."""

    __tablename__ = "detection_counts"
    __table_args__ = (Index("ix_detection_counts_day", "day"),)

    device_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD
    count: Mapped[int] = mapped_column(BigInteger, default=0)


class AlertRule(Base):
    """A condition on a device's latest readings that must hold `for_seconds` to fire."""

    __tablename__ = "alert_rules"

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    metric: Mapped[str] = mapped_column(String(32))
    op: Mapped[str] = mapped_column(String(2))
    threshold: Mapped[float]
    for_seconds: Mapped[int] = mapped_column(default=0)
    severity: Mapped[str] = mapped_column(String(16))
    enabled: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AlertRow(Base):
    """One alert of one rule on one device: pending, firing, then resolved.

    At most one is open (pending or firing) per (rule, device_id): only the evaluation
    activity writes them, one round at a time. Resolved ones are kept as history.
    """

    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_state", "state", "rule", "device_id"),
        Index("ix_alerts_device", "device_id", "state"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule: Mapped[str] = mapped_column(String(63))
    device_id: Mapped[str] = mapped_column(String(63))
    node_name: Mapped[str | None] = mapped_column(String(253))
    severity: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))  # pending / firing / resolved
    message: Mapped[str] = mapped_column(String(300))
    value: Mapped[float | None]
    pending_since: Mapped[datetime]
    started_at: Mapped[datetime | None]  # when it fired
    resolved_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# --- audit: the security audit log (store.audit) ----------------------------------------


class AuditRow(Base):
    """One security-relevant event, appended and never changed; pruned by age only.

    `dedupe_key` (a sha256) makes events that must be recorded once per period (a token's
    first use per day, a refused token per address per minute) idempotent across API
    replicas: a second insert with the same key does nothing. NULL for every other event.
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_timestamp", "timestamp"),
        Index("ix_audit_log_event", "event", "timestamp"),
        Index("ix_audit_log_actor", "actor", "timestamp"),
        Index("ux_audit_log_dedupe_key", "dedupe_key", unique=True),
        # AUTOINCREMENT: ids are never reused, so an id names one event for ever.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    timestamp: Mapped[datetime] = mapped_column(default=utcnow)
    event: Mapped[str] = mapped_column(String(40))  # a store.audit.AuditEvent
    actor: Mapped[str | None] = mapped_column(String(100))
    source_ip: Mapped[str | None] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(300))
    outcome: Mapped[str] = mapped_column(String(16))  # a store.audit.AuditOutcome
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    dedupe_key: Mapped[str | None] = mapped_column(String(64))


# --- maintenance: the maintenance window (store.maintenance) ------------------------------


class MaintenanceWindow(Base):
    """The maintenance window, one row per deployment: the newest one, open or ended.

    Written only by the MaintenanceWorkflow's activities; the API's write gate and its
    status endpoint read it, so every replica sees the same window.
    """

    __tablename__ = "maintenance_window"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    active: Mapped[bool] = mapped_column(default=False)
    reason: Mapped[str | None] = mapped_column(String(200))
    message: Mapped[str | None] = mapped_column(String(500))
    started_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    started_by: Mapped[str | None] = mapped_column(String(200))
    # What the window paused: [{"kind", "id", "run_id"}], so it can be shown and resumed.
    paused: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    workflow_id: Mapped[str | None] = mapped_column(String(300))
    run_id: Mapped[str | None] = mapped_column(String(64))
    stopped_at: Mapped[datetime | None]
    ended: Mapped[str | None] = mapped_column(String(16))
    stopped_by: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
