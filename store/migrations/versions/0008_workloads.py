"""workloads: definitions, revisions, rollouts and where each workload runs

Revision ID: 0008_workloads
Revises: 0002_runtime_config
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_workloads"
down_revision: str | None = "0002_runtime_config"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "workloads",
        sa.Column("workload_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("namespace", sa.String(length=63), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("deployed_revision", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("target_nodes", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("workload_id"),
    )
    op.create_index("ix_workloads_namespace_name", "workloads", ["namespace", "name"], unique=True)
    op.create_table(
        "workload_revisions",
        sa.Column("workload_id", sa.String(length=36), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("workload_id", "revision"),
    )
    op.create_table(
        "rollouts",
        sa.Column("rollout_id", sa.String(length=36), nullable=False),
        sa.Column("workload_id", sa.String(length=36), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("workflow_id", sa.String(length=120), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("strategy", sa.JSON(), nullable=False),
        sa.Column("target_nodes", sa.JSON(), nullable=False),
        sa.Column("progress", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("requested_by", sa.String(length=100), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("rollout_id"),
    )
    op.create_index("ix_rollouts_workload", "rollouts", ["workload_id", "revision"])
    op.create_table(
        "workload_nodes",
        sa.Column("workload_id", sa.String(length=36), nullable=False),
        sa.Column("node_name", sa.String(length=253), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("service_port", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("workload_id", "node_name"),
    )


def downgrade() -> None:
    op.drop_table("workload_nodes")
    op.drop_index("ix_rollouts_workload", table_name="rollouts")
    op.drop_table("rollouts")
    op.drop_table("workload_revisions")
    op.drop_index("ix_workloads_namespace_name", table_name="workloads")
    op.drop_table("workloads")
