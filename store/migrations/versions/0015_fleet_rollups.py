"""fleet rollups: the fleet's sums and counts per bucket (node ''), from the node rollups

Compaction writes them from now on; this fills them in for what is already rolled up.

Revision ID: 0015_fleet_rollups
Revises: 0013_monitoring
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015_fleet_rollups"
down_revision: str | None = "0013_monitoring"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The metrics as of 0013_monitoring.
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
_SUMS = [name for metric in _METRICS for name in (f"{metric}_sum", f"{metric}_n")]


def upgrade() -> None:
    columns = ", ".join(_SUMS)
    totals = ", ".join(f"SUM({name})" for name in _SUMS)
    op.execute(
        f"INSERT INTO metric_rollups (width, node_id, bucket, {columns}) "  # noqa: S608
        f"SELECT width, '', bucket, {totals} FROM metric_rollups "
        "WHERE node_id <> '' GROUP BY width, bucket"
    )


def downgrade() -> None:
    op.execute("DELETE FROM metric_rollups WHERE node_id = ''")
