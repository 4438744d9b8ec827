"""devices' MQTT accounts: the hash of each device's broker password

Revision ID: 0010_mqtt_credentials
Revises: 0002_runtime_config
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_mqtt_credentials"
down_revision: str | None = "0002_runtime_config"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mqtt_credentials",
        sa.Column("device_id", sa.String(length=63), nullable=False),
        sa.Column("username", sa.String(length=63), nullable=False),
        sa.Column("password_hash", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("device_id"),
    )


def downgrade() -> None:
    op.drop_table("mqtt_credentials")
