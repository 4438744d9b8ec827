"""Rows applied back from an archive, on both databases: revocations and uses never undone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.backup.table_dump import BoundTable, TableSpec, bind, upsert_rows
from store.models import JoinToken

Sessions = async_sessionmaker[AsyncSession]
T1 = datetime(2026, 1, 15, 10, 30, tzinfo=UTC)
T2 = T1 + timedelta(hours=1)
JOIN_TOKENS = TableSpec(
    table="join_tokens", key=("token_id",), latest_wins=("used_at", "revoked_at")
)

# token_id -> (stored revoked_at, archived revoked_at, what must be stored afterwards)
CASES = {
    "revoked-since-backup": (T1, None, T1),
    "revoked-only-in-archive": (None, T1, T1),
    "revoked-later-in-store": (T2, T1, T2),
    "revoked-later-in-archive": (T1, T2, T2),
    "never-revoked": (None, None, None),
}


def archived_row(
    bound: BoundTable, token_id: str, revoked_at: datetime | None
) -> dict[str, object]:
    row = JoinToken(
        token_id=token_id,
        token_hash=token_id.ljust(64, "0")[:64],
        node_name="n1",
        expires_at=T2 + timedelta(days=1),
        used_at=revoked_at,
        revoked_at=revoked_at,
        created_at=T1,
    )
    return bound.to_json([getattr(row, name) for name in bound.column_names])


async def test_a_restore_keeps_the_later_revocation_and_use(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        bound = await bind(session, JOIN_TOKENS)
        assert isinstance(bound, BoundTable)
        stored = [archived_row(bound, token_id, case[0]) for token_id, case in CASES.items()]
        await upsert_rows(session, bound, stored)
    async with sessions() as session, session.begin():
        archived = [archived_row(bound, token_id, case[1]) for token_id, case in CASES.items()]
        await upsert_rows(session, bound, archived)
    async with sessions() as session:
        rows = {row.token_id: row for row in await session.scalars(select(JoinToken))}
    for token_id, (_, _, expected) in CASES.items():
        assert (token_id, rows[token_id].revoked_at) == (token_id, expected)
        assert (token_id, rows[token_id].used_at) == (token_id, expected)


def test_merge_picks_the_later_value_of_json_rows() -> None:
    current = {"token_id": "a", "revoked_at": T2.isoformat(), "used_at": None}
    archived = {"token_id": "a", "revoked_at": T1.isoformat(), "used_at": T1.isoformat()}
    merged = JOIN_TOKENS.merged(current, archived)
    assert merged == {"token_id": "a", "revoked_at": T2.isoformat(), "used_at": T1.isoformat()}
