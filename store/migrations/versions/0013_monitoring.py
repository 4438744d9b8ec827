"""monitoring: metric samples, their 1m/5m/1h rollups, compaction state, detection counts,
alert rules (with the default ones) and alerts

Revision ID: 0013_monitoring
Revises: 0004_inventory
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0013_monitoring"
down_revision: str | None = "0004_inventory"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The metrics as of this revision (store.models.METRICS may grow in later ones).
_METRICS = (
    "cpu_usage",
    "memory_usage",
    "memory_total",
    "disk_usage",
    "disk_total",
    "temperature",
    "rx_bytes",
    "tx_bytes",
)


# name, metric, threshold, for_seconds, severity: the rules every fleet starts with.
_DEFAULT_RULES = (
    ("high_cpu", "cpu_usage", 90.0, 300, "warning"),
    ("high_memory", "memory_percent", 90.0, 300, "warning"),
    ("high_disk", "disk_percent", 90.0, 300, "warning"),
    ("high_temperature", "temperature", 80.0, 300, "critical"),
    ("device_offline", "offline", 0.0, 300, "critical"),
)


def upgrade() -> None:
    op.create_table(
        "metric_samples",
        sa.Column("node_id", sa.String(length=36), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        *(sa.Column(name, sa.Float(), nullable=True) for name in _METRICS),
        sa.Column("containers", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("node_id", "ts"),
    )
    op.create_index("ix_metric_samples_ts", "metric_samples", ["ts"])
    rollup_columns: list[sa.Column[object]] = []
    for name in _METRICS:
        rollup_columns.append(sa.Column(f"{name}_sum", sa.Float(), nullable=True))
        rollup_columns.append(
            sa.Column(f"{name}_n", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_table(
        "metric_rollups",
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.String(length=36), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        *rollup_columns,
        sa.PrimaryKeyConstraint("width", "node_id", "bucket"),
    )
    op.create_index("ix_metric_rollups_width_bucket", "metric_rollups", ["width", "bucket"])
    op.create_table(
        "metric_compaction",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("compacted_until", sa.BigInteger(), nullable=False),
        sa.Column("recompute_from", sa.BigInteger(), nullable=True),
        sa.Column("late_seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "detection_counts",
        sa.Column("device_id", sa.String(length=63), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("device_id", "day"),
    )
    op.create_index("ix_detection_counts_day", "detection_counts", ["day"])
    rules = op.create_table(
        "alert_rules",
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("metric", sa.String(length=32), nullable=False),
        sa.Column("op", sa.String(length=2), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("for_seconds", sa.Integer(), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    now = datetime.now(UTC)
    op.bulk_insert(
        rules,
        [
            {"name": name, "metric": metric, "op": ">", "threshold": threshold}
            | {"for_seconds": wait, "severity": severity, "enabled": True, "updated_at": now}
            for name, metric, threshold, wait, severity in _DEFAULT_RULES
        ],
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=63), nullable=False),
        sa.Column("device_id", sa.String(length=63), nullable=False),
        sa.Column("node_name", sa.String(length=253), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("message", sa.String(length=300), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("pending_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=100), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_alerts_state", "alerts", ["state", "rule", "device_id"])
    op.create_index("ix_alerts_device", "alerts", ["device_id", "state"])


def downgrade() -> None:
    op.drop_index("ix_alerts_device", table_name="alerts")
    op.drop_index("ix_alerts_state", table_name="alerts")
    op.drop_table("alerts")
    op.drop_table("alert_rules")
    op.drop_index("ix_detection_counts_day", table_name="detection_counts")
    op.drop_table("detection_counts")
    op.drop_table("metric_compaction")
    op.drop_index("ix_metric_rollups_width_bucket", table_name="metric_rollups")
    op.drop_table("metric_rollups")
    op.drop_index("ix_metric_samples_ts", table_name="metric_samples")
    op.drop_table("metric_samples")
