"""Observed snapshots: a read that began earlier never replaces one that began later."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store import cloudcore as observed
from store.models import utcnow

Sessions = async_sessionmaker[AsyncSession]


async def save(sessions: Sessions, value: dict[str, Any], *, observed_at: datetime) -> None:
    async with sessions() as session, session.begin():
        await observed.save_observed(
            session, key=observed.CLOUDCORE, value=value, observed_at=observed_at
        )


async def stored(sessions: Sessions) -> tuple[dict[str, Any], datetime]:
    async with sessions() as session:
        row = await observed.load_observed(session, key=observed.CLOUDCORE)
    assert row is not None
    return row.value, row.observed_at


async def test_a_late_commit_of_an_older_read_keeps_the_newer_snapshot(
    sessions: Sessions,
) -> None:
    # The health report read before a renewal put the old certificate back, and committed
    # after the renewal recorded what it read: the list must keep the renewal's.
    older, newer = utcnow(), utcnow() + timedelta(milliseconds=1)
    await save(sessions, {"serial": "restored"}, observed_at=newer)
    await save(sessions, {"serial": "renewed"}, observed_at=older)
    assert await stored(sessions) == ({"serial": "restored"}, newer)

    later = newer + timedelta(seconds=15)  # the next report, read after: it replaces it
    await save(sessions, {"serial": "next"}, observed_at=later)
    assert await stored(sessions) == ({"serial": "next"}, later)
