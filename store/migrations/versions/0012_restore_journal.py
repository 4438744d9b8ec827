"""restore journal: what each restore changed, so a failed one undoes only that

Revision ID: 0012_restore_journal
Revises: 0005_backups
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_restore_journal"
down_revision: str | None = "0005_backups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "restore_journal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("restore_id", sa.String(length=128), nullable=False),
        sa.Column("part", sa.String(length=64), nullable=False),
        sa.Column("key", sa.JSON(), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_restore_journal_restore_outcome", "restore_journal", ["restore_id", "outcome"]
    )
    op.add_column("restores", sa.Column("rollback", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("restores") as batch:
        batch.drop_column("rollback")
    op.drop_index("ix_restore_journal_restore_outcome", table_name="restore_journal")
    op.drop_table("restore_journal")
