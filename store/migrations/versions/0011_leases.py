"""leases: which process holds a role that only one may hold at a time

Revision ID: 0011_leases
Revises: 0002_runtime_config
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_leases"
down_revision: str | None = "0002_runtime_config"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("holder", sa.String(length=300), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("leases")
