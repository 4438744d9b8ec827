"""Leases: a role one process holds at a time, for as long as it renews it.

A lease is a row with its holder and expiry. Taking it is one conditional upsert: it
succeeds for the holder itself (a renewal) or when the lease has expired, so of several
processes trying at once exactly one wins. Expiries are compared with the caller's
clock: replicas need clocks in step (NTP) to within a fraction of the lease.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, delete
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import Lease
from store.upsert import insert_for


async def take(
    session: AsyncSession, *, name: str, holder: str, now: datetime, ttl: timedelta
) -> bool:
    """Take or renew the lease `name` for `holder` until now + ttl; False when another
    holder's lease is still running."""
    table = cast(Table, Lease.__table__)
    stmt = insert_for(session.get_bind().dialect.name)(table).values(
        name=name, holder=holder, expires_at=now + ttl
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["name"],
        set_={"holder": stmt.excluded.holder, "expires_at": stmt.excluded.expires_at},
        where=(table.c.holder == holder) | (table.c.expires_at < now),
    )
    result = await session.execute(stmt)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def release(session: AsyncSession, *, name: str, holder: str) -> bool:
    """Give the lease up at once (only its holder can), so another need not wait it out."""
    result = await session.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def holder_of(session: AsyncSession, *, name: str, now: datetime) -> str | None:
    found = await session.get(Lease, name)
    if found is None or found.expires_at < now:
        return None
    return found.holder
