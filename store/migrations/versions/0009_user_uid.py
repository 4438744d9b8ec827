"""users: an id that is never reused, and a random uid that login tokens carry

SQLite hands a deleted row's INTEGER PRIMARY KEY to the next insert unless the table is
AUTOINCREMENT, so a deleted user's id (and a token naming it) became the next user's.
The table is rebuilt with AUTOINCREMENT on SQLite; PostgreSQL's sequence never reuses.
`uid` is random per account, so a token stays bound to the account it was issued for
even across a rebuilt database signed with the same secret.

Revision ID: 0009_user_uid
Revises: 0003_access
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_user_uid"
down_revision: str | None = "0003_access"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("uid", sa.String(length=36), nullable=True))
    users = sa.table("users", sa.column("id", sa.Integer()), sa.column("uid", sa.String()))
    connection = op.get_bind()
    for (user_id,) in connection.execute(sa.select(users.c.id)).all():
        connection.execute(
            users.update().where(users.c.id == user_id).values(uid=str(uuid.uuid4()))
        )
    sqlite = connection.dialect.name == "sqlite"
    with op.batch_alter_table(
        "users",
        recreate="always" if sqlite else "auto",
        table_kwargs={"sqlite_autoincrement": True},
    ) as batch:
        batch.alter_column("uid", existing_type=sa.String(length=36), nullable=False)
        batch.create_unique_constraint("uq_users_uid", ["uid"])


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table("users", recreate="always" if sqlite else "auto") as batch:
        batch.drop_constraint("uq_users_uid", type_="unique")
        batch.drop_column("uid")
