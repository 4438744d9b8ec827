"""Backup and restore records on both databases, and the retention rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.backup import records as backups

NOW = datetime(2026, 1, 31, tzinfo=UTC)
DAILY = [(f"b{day:02d}", NOW - timedelta(days=day)) for day in range(10)]  # b00 newest


@pytest.mark.parametrize(
    ("keep_last", "keep_days", "doomed"),
    [
        (0, 0, []),  # no rule: keep everything
        (3, 0, [f"b{day:02d}" for day in range(3, 10)]),
        (0, 4.5, [f"b{day:02d}" for day in range(5, 10)]),
        (2, 4.5, [f"b{day:02d}" for day in range(5, 10)]),  # either rule keeps a backup
        (7, 1, [f"b{day:02d}" for day in range(7, 10)]),
    ],
)
def test_retention_keeps_what_any_rule_keeps(
    keep_last: int, keep_days: float, doomed: list[str]
) -> None:
    assert backups.prunable(DAILY, keep_last=keep_last, keep_days=keep_days, now=NOW) == doomed


def test_retention_never_prunes_what_it_is_told_to_keep() -> None:
    doomed = backups.prunable(DAILY, keep_last=1, keep_days=0, now=NOW, keep={"b09"})
    assert "b09" not in doomed
    assert doomed == [f"b{day:02d}" for day in range(1, 9)]


async def test_records_upsert_and_list(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        for backup_id, created in DAILY[:3]:
            await backups.save_backup(
                session,
                backup_id=backup_id,
                kind="scheduled",
                status="running",
                include=["devices"],
                workflow_id=f"backup/{backup_id}",
                created_at=created,
            )
        await backups.save_backup(  # the run's end rewrites its record
            session,
            backup_id="b01",
            kind="scheduled",
            status="completed",
            include=["devices"],
            workflow_id="backup/b01",
            created_at=DAILY[1][1],
            size_bytes=5_000_000_000,
            contents={"parts": [], "skipped": []},
        )
    async with sessions() as session, session.begin():
        listed = await backups.list_backups(session, offset=0, limit=10)
        assert [row.backup_id for row in listed] == ["b00", "b01", "b02"]
        assert await backups.count_backups(session) == 3
        completed = await backups.completed_backups(session, kind="scheduled")
        assert [row.backup_id for row in completed] == ["b01"]
        assert completed[0].size_bytes == 5_000_000_000  # BigInteger: archives over 2 GiB
        assert await backups.mark_pruned(session, backup_id="b01")
    async with sessions() as session:
        row = await backups.get_backup(session, backup_id="b01")
        assert row is not None
        assert row.status == "pruned"
        assert row.pruned_at is not None
