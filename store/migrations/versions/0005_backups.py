"""backups and restores

Revision ID: 0005_backups
Revises: 0002_runtime_config
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_backups"
down_revision: str | None = "0002_runtime_config"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "backups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("backup_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("include", sa.JSON(), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=True),
        sa.Column("location", sa.String(length=1024), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("format_version", sa.Integer(), nullable=True),
        sa.Column("contents", sa.JSON(), nullable=False),
        sa.Column("multipart", sa.Boolean(), nullable=False),
        sa.Column("schedule_id", sa.String(length=63), nullable=True),
        sa.Column("workflow_id", sa.String(length=300), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pruned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("backup_id"),
    )
    with op.batch_alter_table("backups", schema=None) as batch_op:
        batch_op.create_index(
            "ix_backups_kind_status_created", ["kind", "status", "created_at"], unique=False
        )

    op.create_table(
        "restores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("restore_id", sa.String(length=128), nullable=False),
        sa.Column("backup_id", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=True),
        sa.Column("applied", sa.JSON(), nullable=False),
        sa.Column("safety_backup_id", sa.String(length=160), nullable=True),
        sa.Column("rolled_back", sa.Boolean(), nullable=False),
        sa.Column("error_type", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("workflow_id", sa.String(length=300), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("restore_id"),
    )
    with op.batch_alter_table("restores", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_restores_backup_id"), ["backup_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_restores_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("restores", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_restores_status"))
        batch_op.drop_index(batch_op.f("ix_restores_backup_id"))
    op.drop_table("restores")
    with op.batch_alter_table("backups", schema=None) as batch_op:
        batch_op.drop_index("ix_backups_kind_status_created")
    op.drop_table("backups")
