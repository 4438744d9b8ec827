"""What archives may hold: no account or revocation tables, and token state only forward."""

from __future__ import annotations

from activities.backup.parts import TABLE_PARTS
from store.models import Base

# Revocations and uses: a restore must never clear or move them back.
FORWARD_ONLY = {"revoked_at", "used_at"}


def test_every_token_state_column_is_latest_wins() -> None:
    for part in TABLE_PARTS:
        table = Base.metadata.tables[part.spec.table]
        assert FORWARD_ONLY & set(table.c.keys()) <= set(part.spec.latest_wins), part.name


def test_accounts_keys_and_revocations_are_never_archived() -> None:
    tables = {part.spec.table for part in TABLE_PARTS}
    assert not tables & {"users", "api_keys", "revoked_tokens"}
