"""Detections counted per device and UTC day, written by the bridge once per flush."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import cast

from sqlalchemy import Table, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert

from store.models import DetectionCount
from store.upsert import insert_for


def day_of(moment: datetime) -> str:
    return moment.date().isoformat()


async def add_detections(session: AsyncSession, *, day: str, counts: Mapping[str, int]) -> None:
    """Add `counts` (device_id -> detections) to the day's counters: one executemany."""
    if not counts:
        return
    rows = [{"device_id": d, "day": day, "count": n} for d, n in counts.items() if n > 0]
    if rows:
        await session.execute(_increment(session.get_bind().dialect.name), rows)


@lru_cache(maxsize=4)
def _increment(dialect: str) -> Insert:
    table = cast(Table, DetectionCount.__table__)
    stmt = insert_for(dialect)(table)
    return stmt.on_conflict_do_update(
        index_elements=["device_id", "day"],
        set_={"count": table.c["count"] + stmt.excluded["count"]},
    )


async def detections_on(session: AsyncSession, *, day: str, device_id: str | None = None) -> int:
    """Detections on `day`, of one device or of the fleet."""
    stmt = select(func.coalesce(func.sum(DetectionCount.count), 0)).where(DetectionCount.day == day)
    if device_id is not None:
        stmt = stmt.where(DetectionCount.device_id == device_id)
    return int(await session.scalar(stmt) or 0)


async def prune_detections(session: AsyncSession, *, before_day: str) -> int:
    result = await session.execute(delete(DetectionCount).where(DetectionCount.day < before_day))
    return max(int(getattr(result, "rowcount", 0) or 0), 0)
