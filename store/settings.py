"""Process configuration, read from `EDGEWRIGHT_*` environment variables (and `.env`).

Every process (API, worker, bridge, stack launcher, tests) builds one `Settings` in its
entry point and passes it down; nothing reads the environment at import time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib.metadata
from enum import StrEnum
from functools import cache, cached_property
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The rate limit applies to every caller, admins included: below this, a page load and a
# retry could lock even the admin who set it out for a minute.
MIN_RATE_LIMIT_PER_MINUTE = 10
# The runtime configuration holds the limit within this too: a larger setting would be
# accepted at start and then fail every counted request.
MAX_RATE_LIMIT_PER_MINUTE = 100_000


class KubeMode(StrEnum):
    """How the worker reaches Kubernetes."""

    AUTO = "auto"  # kubeconfig or in-cluster config when present, else the sandbox
    CLUSTER = "cluster"  # a real cluster; fail when none is configured
    SANDBOX = "sandbox"  # the local API emulator at `sandbox_url`


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="EDGEWRIGHT_", env_file=".env", extra="ignore", frozen=True
    )

    data_dir: Path = Path("data")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL; default SQLite file in data_dir. "
        "PostgreSQL: postgresql+asyncpg://user:pass@host/db",
    )
    database_pool_size: int = Field(
        default=20,
        ge=1,
        le=200,
        description="Store connections each process keeps open; a request holds one while "
        "it runs. On PostgreSQL up to 10 more open past it and close after use",
    )
    database_pool_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="How long a request waits for a free store connection before it is "
        "answered 503 with Retry-After",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Root secret; JWT signing and token sealing keys are derived from it. "
        "Generated into data_dir by `make run` when unset.",
    )
    admin_username: str = "admin"
    admin_password: SecretStr | None = None

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_ui_url: str = "http://127.0.0.1:8233"
    # A secured cluster or Temporal Cloud (README "A real cluster"): TLS, with a client
    # certificate for mTLS, or an API key (which implies TLS).
    temporal_tls: bool = Field(
        default=False, description="TLS to Temporal (implied by a client certificate or API key)"
    )
    temporal_tls_ca_file: Path | None = Field(
        default=None, description="CA bundle of Temporal's server certificate; default: system"
    )
    temporal_tls_cert_file: Path | None = Field(
        default=None, description="Client certificate (PEM) for mTLS; needs the key file"
    )
    temporal_tls_key_file: Path | None = Field(
        default=None, description="Client private key (PEM) for mTLS"
    )
    temporal_tls_server_name: str | None = Field(
        default=None, description="Server name to verify, when not the address's host"
    )
    temporal_api_key: SecretStr | None = Field(
        default=None, description="Temporal Cloud API key (sent as a bearer token over TLS)"
    )
    task_queue: str = "edgewright"
    worker_build_id: str | None = Field(
        default=None,
        description="This worker's build ID in Temporal (the image tag, say); default "
        "edgewright-VERSION",
    )
    # Memory of one worker (docs/scaling.md, "Worker memory"), measured with bench.batch_join.
    worker_max_cached_workflows: int = Field(
        default=400,
        ge=0,
        le=10_000,
        description="Workflow runs the worker keeps in memory between their tasks (the "
        "SDK's sticky cache; 0: none, every task replays its history). Each costs about "
        "100 kB; keep it above the joins in flight (batch max_concurrency), or their "
        'tasks replay over and over (docs/scaling.md, "Worker memory")',
    )
    worker_max_concurrent_workflow_tasks: int = Field(
        default=16,
        ge=1,
        le=500,
        description="Workflow activations the worker runs at once, each on a thread of "
        "its own (the SDK's default, 100 slots and up to 500 threads, let dozens of join "
        "activations share the GIL while the SDK gives each 2 s: a batch's parent failed "
        'as a deadlock; docs/scaling.md, "Worker memory")',
    )
    api_malloc_arena_max: int = Field(
        default=2,
        ge=0,
        le=64,
        description="glibc malloc arenas the API's threads share, set at its start (0: "
        "glibc's default, 8 per core, or MALLOC_ARENA_MAX). Each pooled SQLite connection "
        "reads on a thread of its own, and their arenas kept about 10 MB after whole-list "
        "reads (adapters/malloc_arenas.py)",
    )
    worker_malloc_arena_max: int = Field(
        default=0,
        ge=0,
        le=64,
        description="glibc malloc arenas the worker's threads share (0: glibc's default, "
        "8 per core, or MALLOC_ARENA_MAX)",
    )

    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    mqtt_username: str | None = Field(
        default=None,
        description="MQTT account of the worker, bridge, API and simulator. Generated into "
        "data_dir by `make run` when unset",
    )
    mqtt_password: SecretStr | None = None
    mqtt_control_username: str | None = Field(
        default=None,
        description="MQTT account allowed to manage the broker's clients ($CONTROL topic of "
        "Mosquitto's dynamic security plugin); the worker gives each joined device its own "
        "client with it. Unset: devices get credentials the broker does not check",
    )
    mqtt_control_password: SecretStr | None = None
    mqtt_device_host: str | None = Field(
        default=None,
        description="MQTT broker host given to devices in join answers; default mqtt_host",
    )

    kube_mode: KubeMode = KubeMode.AUTO
    sandbox_url: str = "http://127.0.0.1:8001"
    kubeedge_namespace: str = "kubeedge"
    device_namespace: str = "default"

    cloudcore_address: str | None = Field(
        default=None,
        description="Advertised CloudCore IP or host used when a join request names no cloud_ip.",
    )
    cloudcore_port: int = Field(default=10000, ge=1, le=65535)
    kubeedge_version: str | None = None
    join_token_ttl_hours: float = Field(default=24.0, gt=0, le=24 * 30)
    join_answer_timeout_seconds: float = Field(default=30.0, gt=0)
    # CloudCore lists without page/limit answer every item up to this many; a multiple of
    # the page limit (100), so the Link to the rest is a whole page number.
    list_cap: int = Field(default=10_000, ge=100, le=1_000_000, multiple_of=100)
    # Inventory: how fresh node facts are, and how long a CloudCore rollout may take.
    node_sync_interval_seconds: float = Field(default=30.0, gt=0)
    cloudcore_rollout_timeout_seconds: float = Field(default=300.0, gt=0)
    # How long POST /cloudcore/deploy holds the request, all in: then 202 and a status URL.
    cloudcore_answer_timeout_seconds: float = Field(default=20.0, gt=0, le=300)
    # A certificate this close to its end is listed as `expiring`.
    certificate_expiry_warning_days: int = Field(default=30, ge=1, le=3650)
    cloudcore_image: str = Field(
        default="kubeedge/cloudcore", description="Image repository of CloudCore deploys"
    )

    batch_max_devices: int = Field(
        default=10_000, ge=1, description="Devices per batch-join request"
    )
    batch_max_concurrency: int = Field(
        default=100, ge=1, le=1000, description="Joins in flight per batch"
    )
    batch_sync_limit: int = Field(
        default=50, ge=0, description="Batches up to this size answer with the full report (200)"
    )
    jwt_ttl_minutes: int = Field(default=60, ge=1, le=24 * 60)
    rate_limit_per_minute: int = Field(
        default=600,
        ge=MIN_RATE_LIMIT_PER_MINUTE,
        le=MAX_RATE_LIMIT_PER_MINUTE,
        description="Requests per minute per user or API key (default)",
    )
    rate_limit_storage: str = Field(
        default="memory://",
        description="Where rate-limit counters live (a `limits` storage URI). memory:// "
        "counts per process; several API replicas need a shared one, e.g. redis://host:6379",
    )
    login_rate_limit_per_minute: int = Field(
        default=20,
        ge=1,
        description="Login attempts per minute per client IP (at most the "
        "general rate limit); slows password guessing",
    )
    # Bodies over these are refused (413) before authentication or parsing.
    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="Largest request body, in bytes"
    )
    max_batch_join_body_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1024,
        description="Largest POST /api/kubeedge/batch-join body (JSON, YAML, CSV or upload)",
    )
    max_restore_body_bytes: int = Field(
        default=16 * 1024 * 1024, ge=1024, description="Largest POST /api/kubeedge/restore body"
    )
    # Argon2 takes a CPU and 64 MiB per hash: bound how many logins hash at once.
    login_max_concurrent: int = Field(
        default=4, ge=1, le=256, description="Logins hashing a password at once, per API process"
    )
    login_queue_seconds: float = Field(
        default=2.0,
        ge=0,
        le=60,
        description="How long a login waits for a free slot before it is answered 503",
    )
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_public_url: str | None = None

    # Backups (README "Backups and S3"). Credentials come from the usual AWS chain
    # (environment, shared config, instance role), never from here, so nothing to log.
    backup_location: str | None = Field(
        default=None,
        description="Where archives go: s3://bucket/prefix or file://path; "
        "default file://DATA_DIR/backups",
    )
    backup_s3_endpoint_url: str | None = Field(
        default=None, description="S3 endpoint of MinIO or another S3; unset: AWS"
    )
    backup_s3_region: str | None = None
    backup_sse: Literal["none", "AES256", "aws:kms"] = "none"
    backup_sse_kms_key_id: str | None = None
    # Archives at least this big go up in parts of backup_multipart_chunk_bytes (S3: >= 5 MiB).
    backup_multipart_threshold_bytes: int = Field(default=64 * 1024 * 1024, ge=1)
    backup_multipart_chunk_bytes: int = Field(default=16 * 1024 * 1024, ge=5 * 1024 * 1024)
    backup_verify: Literal["download", "head"] = "download"
    backup_scratch_dir: Path | None = None
    backup_keep_last: int = Field(default=14, ge=0, description="0: no count rule")
    backup_keep_days: float = Field(default=30.0, ge=0, description="0: no age rule")
    backup_schedule_enabled: bool = True
    backup_schedule_id: str = Field(default="default", pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    backup_schedule_cron: str = "0 2 * * *"
    backup_schedule_interval_seconds: int = Field(
        default=0, ge=0, description="> 0: every this many seconds instead of the cron line"
    )
    # A schedule firing every second filled a disk: every schedule, configured or made
    # through the API, runs at least this far apart.
    backup_schedule_min_interval_seconds: int = Field(
        default=300, ge=1, description="Shortest time allowed between two scheduled backups"
    )
    backup_schedule_keep_forever: bool = Field(
        default=False,
        description="Let the configured schedule keep every backup when both "
        "EDGEWRIGHT_BACKUP_KEEP_LAST and EDGEWRIGHT_BACKUP_KEEP_DAYS are 0",
    )
    backup_answer_timeout_seconds: float = Field(default=30.0, gt=0)

    # Commands, the MQTT bridge, live events and the simulated fleet.
    command_timeout_seconds: float = Field(
        default=30.0, gt=0, le=24 * 3600, description="Default time a device has to answer"
    )
    command_connect_timeout_seconds: float = Field(
        default=60.0, ge=0, description="Default time an offline device has to come online"
    )
    command_answer_timeout_seconds: float = Field(
        default=10.0, gt=0, description="How long a command POST waits for `sent` before 202"
    )
    command_wait_max_seconds: float = Field(
        default=300.0, gt=0, description="Longest a `?wait=true` request is held open"
    )
    device_offline_after_seconds: float = Field(
        default=45.0, gt=0, description="Silence after which the bridge marks a device offline"
    )
    bridge_flush_interval_seconds: float = Field(default=1.0, gt=0, le=60)
    bridge_share_group: str = Field(
        default="edgewright-bridge",
        pattern=r"^[A-Za-z0-9_-]*$",
        description="MQTT shared-subscription group of the bridge replicas; empty: plain "
        "subscriptions (one replica, or a broker without $share such as amqtt)",
    )
    bridge_max_result_bytes: int = Field(
        default=256 * 1024,
        ge=1024,
        le=2 * 1024 * 1024,
        description="Largest command result (MQTT payload) the bridge hands to a workflow; "
        "a larger one ends the command as failed, 'result too large', with a short preview. "
        "Temporal refuses signals over 2 MiB",
    )
    bridge_client_id: str | None = Field(
        default=None,
        description="MQTT client ID of this bridge replica's live connection (a clean "
        "session, member of the share group); default edgewright-bridge-HOSTNAME",
    )
    bridge_queue_client_id: str | None = Field(
        default=None,
        description="MQTT client ID of the replicas' one durable session (results and last "
        "wills), which one replica at a time holds; default edgewright-bridge-queue-GROUP",
    )
    bridge_queue_lease_seconds: float = Field(
        default=15.0,
        gt=0,
        le=600,
        description="How long the replica holding the durable session may go without "
        "renewing its lease before another takes over",
    )
    metrics_public: bool = Field(
        default=False,
        description="Serve the API's /metrics without credentials (a scraper on a private "
        "network); /api/kubeedge/metrics/prometheus always asks for them",
    )
    metrics_host: str = Field(
        default="127.0.0.1", description="Address the worker's and bridge's /metrics listen on"
    )
    worker_metrics_port: int = Field(default=9464, ge=0, le=65535, description="0: off")
    bridge_metrics_port: int = Field(default=9465, ge=0, le=65535, description="0: off")
    heartbeat_file: Path | None = Field(
        default=None,
        description="The worker and the bridge touch this file while they run (liveness "
        "probes: `python -m workers.heartbeat PATH`); unset: no file",
    )
    # Monitoring (README "Monitoring"): how long samples and rollups are kept, and how
    # often the scheduled compaction rolls samples up.
    metrics_raw_retention_hours: float = Field(
        default=6.0, ge=1, le=30 * 24, description="Raw metric samples are kept this long"
    )
    metrics_1m_retention_hours: float = Field(
        default=24.0,
        ge=2,
        le=90 * 24,
        description="1-minute rollups; at least an hour longer than raw samples",
    )
    metrics_5m_retention_days: float = Field(default=7.0, ge=1 / 24, le=365)
    metrics_1h_retention_days: float = Field(default=90.0, ge=1 / 24, le=5 * 365)
    metrics_compaction_enabled: bool = True
    metrics_compaction_schedule_id: str = Field(
        default="metrics-compaction",
        pattern=r"^[a-z0-9][a-z0-9-]{0,62}$",
        description="ID of the Temporal Schedule that runs MetricsCompactionWorkflow",
    )
    metrics_compaction_interval_seconds: int = Field(
        default=300,
        ge=60,
        le=3600,
        description="How often the MetricsCompaction schedule runs; queries read samples "
        "newer than the last run directly, so this trades their cost against the runs'",
    )
    # The security audit log (README "Security audit log").
    audit_retention_days: int = Field(
        default=90,
        ge=1,
        le=3650,
        description="Audit log events older than this are deleted by the audit-retention "
        "schedule (hourly); nothing else ever deletes one",
    )
    audit_retention_schedule_id: str = Field(
        default="audit-retention",
        pattern=r"^[a-z0-9][a-z0-9-]{0,62}$",
        description="ID of the Temporal Schedule that runs AuditRetentionWorkflow",
    )
    alert_evaluation_interval_seconds: float = Field(
        default=15.0, ge=1, le=3600, description="How often the alert rules are evaluated"
    )
    metrics_max_future_seconds: int = Field(
        default=300,
        ge=0,
        le=3600,
        description="How far ahead of the server's clock a posted sample's timestamp may be",
    )
    # The API's metric POSTs are written in shared transactions (api.monitoring.batcher).
    metrics_post_batch_samples: int = Field(
        default=500,
        ge=1,
        le=10_000,
        description="Samples of concurrent metric POSTs written in one transaction at most",
    )
    metrics_post_batch_wait_seconds: float = Field(
        default=0.002,
        gt=0,
        le=1,
        description="How long a batch of metric POSTs waits for more after its first sample",
    )
    metrics_post_max_waiting: int = Field(
        default=10_000,
        ge=1,
        le=100_000,
        description="Metric POSTs waiting to be written past which a POST is refused (503)",
    )
    live_queue_size: int = Field(
        default=1000, ge=10, description="Events buffered per SSE/WebSocket client"
    )
    live_max_clients: int = Field(
        default=1000, ge=1, description="SSE and WebSocket clients per API replica"
    )
    live_recheck_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How often an open SSE/WebSocket stream re-checks its caller's "
        "credentials (logged out, deleted, disabled, revoked: the stream ends)",
    )
    live_max_streams_per_caller: int = Field(
        default=5, ge=1, description="Open SSE and WebSocket streams per user or API key"
    )
    # Webhooks (README "Webhooks"). Receivers on private networks are refused unless
    # allowed: a webhook is a request the server makes for whoever may create one.
    webhook_allow_private: bool = Field(
        default=False,
        description="Allow webhook URLs that resolve to loopback, private, link-local or "
        "cloud-metadata addresses (checked at creation and again at every delivery)",
    )
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, le=60, description="How long one delivery attempt may take"
    )
    webhook_retry_initial_seconds: float = Field(
        default=30.0, gt=0, description="Wait before a failed delivery's first retry; doubles"
    )
    webhook_retry_max_interval_seconds: float = Field(
        default=3600.0, gt=0, description="Longest wait between two tries of a delivery"
    )
    webhook_retry_window_seconds: float = Field(
        default=24 * 3600.0, gt=0, description="How long a delivery is retried before it is dead"
    )
    webhook_disable_after_seconds: float = Field(
        default=24 * 3600.0,
        gt=0,
        description="A webhook whose every attempt failed for this long is disabled",
    )
    # Maintenance mode.
    maintenance_restore_minutes: int = Field(
        default=360,
        ge=1,
        le=7 * 24 * 60,
        description="Longest maintenance window a restore opens; it closes it when done",
    )
    maintenance_gate_cache_seconds: float = Field(
        default=2.0,
        ge=0,
        le=30,
        description="How long an API replica may answer writes from its last read of the "
        "maintenance window",
    )
    auth_cache_seconds: float = Field(
        default=2.0,
        ge=0,
        le=30,
        description="How long an API replica reuses its check of a login token against the "
        "store; a logout or a disabled account elsewhere applies here within it (0: never)",
    )
    maintenance_answer_timeout_seconds: float = Field(
        default=30.0, gt=0, description="How long start and stop wait for the window to answer"
    )
    simulated_devices: int = Field(
        default=0,
        ge=0,
        le=100_000,
        validation_alias=AliasChoices("EDGEWRIGHT_SIMULATED_DEVICES", "SIMULATED_DEVICES"),
        description="`make run` starts this many simulated devices, joined on first start",
    )

    @model_validator(mode="after")
    def _no_placeholder_secrets(self) -> Settings:
        for name in ("secret_key", "admin_password", "mqtt_password", "mqtt_control_password"):
            value: SecretStr | None = getattr(self, name)
            if value is not None and value.get_secret_value().lower() in _PLACEHOLDERS:
                raise ValueError(f"EDGEWRIGHT_{name.upper()} is a placeholder; set a real secret")
        if (self.temporal_tls_cert_file is None) != (self.temporal_tls_key_file is None):
            raise ValueError(
                "EDGEWRIGHT_TEMPORAL_TLS_CERT_FILE and EDGEWRIGHT_TEMPORAL_TLS_KEY_FILE go together"
            )
        if self.metrics_raw_retention_hours + 1 > self.metrics_1m_retention_hours:
            # Hourly rollups are summed from 1m ones over whatever samples still hold.
            raise ValueError(
                "EDGEWRIGHT_METRICS_1M_RETENTION_HOURS must be at least an hour more than "
                "EDGEWRIGHT_METRICS_RAW_RETENTION_HOURS"
            )
        if self.metrics_post_max_waiting < self.metrics_post_batch_samples:
            # Fewer could never fill a batch: every batch would wait out its full time.
            raise ValueError(
                "EDGEWRIGHT_METRICS_POST_MAX_WAITING must be at least "
                "EDGEWRIGHT_METRICS_POST_BATCH_SAMPLES"
            )
        if self.secret_key is not None and len(self.secret_key.get_secret_value()) < 32:
            raise ValueError("EDGEWRIGHT_SECRET_KEY must be at least 32 characters")
        return self

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'edgewright.db').as_posix()}"

    @property
    def public_api_url(self) -> str:
        return self.api_public_url or f"http://{self.api_host}:{self.api_port}"

    @property
    def backup_base_url(self) -> str:
        """Where backup archives go, with the embedded default under data_dir."""
        return self.backup_location or f"file://{(self.data_dir / 'backups').as_posix()}"

    def derived_key(self, purpose: str) -> bytes:
        """A 32-byte key for one purpose, derived from the root secret (HMAC-SHA256)."""
        if self.secret_key is None:
            raise RuntimeError("EDGEWRIGHT_SECRET_KEY is not set")
        root = self.secret_key.get_secret_value().encode()
        return hmac.new(root, purpose.encode(), hashlib.sha256).digest()

    @cached_property
    def sealing_key(self) -> bytes:
        """Fernet key for secrets that must cross Temporal history (join tokens)."""
        return base64.urlsafe_b64encode(self.derived_key("edgewright/seal/v1"))

    @cached_property
    def jwt_key(self) -> bytes:
        return self.derived_key("edgewright/jwt/v1")


_PLACEHOLDERS = {"changeme", "change-me", "changethis", "secret", "password", "admin", "admin123"}


@cache
def package_version() -> str:
    """edgewright's version, as installed (a checkout run without installing says 0.1.0)."""
    try:
        return importlib.metadata.version("edgewright")
    except importlib.metadata.PackageNotFoundError:
        return "0.1.0"
