"""inventory: Edge API node fields and node facts on devices, node tokens, observed state

Revision ID: 0004_inventory
Revises: 0002_runtime_config
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_inventory"
down_revision: str | None = "0002_runtime_config"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NEW_DEVICE_COLUMNS = (
    ("address", sa.String(length=253)),
    ("capabilities", sa.JSON()),
    ("resources", sa.JSON()),
    ("labels", sa.JSON()),
    ("reported_status", sa.String(length=32)),
    ("usage", sa.JSON()),
    ("usage_reported_at", sa.DateTime(timezone=True)),
    ("node_ready", sa.Boolean()),
    ("node_roles", sa.JSON()),
    ("node_version", sa.String(length=100)),
    ("node_addresses", sa.JSON()),
    ("node_pods", sa.Integer()),
    ("node_apps", sa.JSON()),
    ("node_created_at", sa.DateTime(timezone=True)),
    ("node_ready_since", sa.DateTime(timezone=True)),
    ("node_heartbeat_at", sa.DateTime(timezone=True)),
    ("node_synced_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("node_id", sa.String(length=36), nullable=True))
        for name, type_ in _NEW_DEVICE_COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))

    # Devices joined before this revision get their opaque Edge API id now.
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT id FROM devices WHERE node_id IS NULL")).all()
    for (row_id,) in rows:
        connection.execute(
            sa.text("UPDATE devices SET node_id = :node_id WHERE id = :id"),
            {"node_id": str(uuid.uuid4()), "id": row_id},
        )

    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.alter_column("node_id", existing_type=sa.String(length=36), nullable=False)
        batch_op.create_unique_constraint("uq_devices_node_id", ["node_id"])

    op.create_table(
        "node_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_id", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("node_id", sa.String(length=36), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
        sa.UniqueConstraint("token_id"),
    )
    with op.batch_alter_table("node_tokens", schema=None) as batch_op:
        batch_op.create_index("ix_node_tokens_node_id", ["node_id"], unique=False)

    op.create_table(
        "observed_state",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("observed_state")
    with op.batch_alter_table("node_tokens", schema=None) as batch_op:
        batch_op.drop_index("ix_node_tokens_node_id")
    op.drop_table("node_tokens")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_constraint("uq_devices_node_id", type_="unique")
        batch_op.drop_column("node_id")
        for name, _ in reversed(_NEW_DEVICE_COLUMNS):
            batch_op.drop_column(name)
