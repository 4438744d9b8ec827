"""commands: the commands table and device presence kept by the MQTT bridge

Revision ID: 0006_commands
Revises: 0002_runtime_config
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_commands"
down_revision: str | None = "0002_runtime_config"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "commands",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("command_id", sa.String(length=100), nullable=False),
        sa.Column("device_id", sa.String(length=63), nullable=True),
        sa.Column("node_name", sa.String(length=253), nullable=True),
        sa.Column("device_type", sa.String(length=200), nullable=True),
        sa.Column("command", sa.String(length=64), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("origin", sa.String(length=120), nullable=True),
        sa.Column("success", sa.Boolean(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_type", sa.String(length=32), nullable=True),
        sa.Column("answered", sa.Integer(), nullable=False),
        sa.Column("timeout_seconds", sa.Float(), nullable=False),
        sa.Column("connect_timeout_seconds", sa.Float(), nullable=False),
        sa.Column("requested_by", sa.String(length=100), nullable=True),
        sa.Column("workflow_id", sa.String(length=300), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("late_result", sa.JSON(), nullable=True),
        sa.Column("late_result_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("command_id"),
    )
    with op.batch_alter_table("commands", schema=None) as batch_op:
        batch_op.create_index("ix_commands_device_status", ["device_id", "status"], unique=False)
        batch_op.create_index("ix_commands_origin", ["origin"], unique=False)

    # Plain ADD COLUMNs (no table rebuild on SQLite); server_default fills existing rows.
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("presence_online", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("presence_heartbeat_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("presence_usage", sa.JSON(), nullable=True))
    # The bridge's sweep looks for online devices whose last heartbeat is too old.
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.create_index(
            "ix_devices_presence", ["presence_online", "presence_heartbeat_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_index("ix_devices_presence")
        batch_op.drop_column("presence_usage")
        batch_op.drop_column("presence_heartbeat_at")
        batch_op.drop_column("presence_online")
    with op.batch_alter_table("commands", schema=None) as batch_op:
        batch_op.drop_index("ix_commands_origin")
        batch_op.drop_index("ix_commands_device_status")
    op.drop_table("commands")
