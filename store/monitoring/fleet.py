"""Fleet figures for the CloudCore document's metrics: devices, latency, storage.

A device counts as online when its bridge presence says so, its Node is Ready, or it
reported over the Edge API within `online_window` (the device view's rule).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import ColumnElement, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import BackupRow, CommandRow, Device
from workflows.contracts.backup import BackupStatus

# Round trips averaged: the newest this many commands answered (of a device or the fleet).
LATENCY_SAMPLE = 500


def online_clause(*, now: datetime, online_window: timedelta) -> ColumnElement[bool]:
    return or_(
        Device.presence_online.is_(True),
        Device.node_ready.is_(True),
        Device.last_seen >= now - online_window,
    )


async def device_counts(
    session: AsyncSession, *, now: datetime, online_window: timedelta
) -> tuple[int, int]:
    """(total, online)."""
    online = online_clause(now=now, online_window=online_window)
    total = await session.scalar(select(func.count()).select_from(Device))
    up = await session.scalar(select(func.count()).select_from(Device).where(online))
    return int(total or 0), int(up or 0)


async def devices_by_type(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(
        select(Device.device_type, func.count()).group_by(Device.device_type)
    )
    return {(kind or "unknown"): int(count) for kind, count in rows}


async def average_round_trip_ms(
    session: AsyncSession, *, device_id: str | None = None, since: datetime | None = None
) -> float | None:
    """Mean publish-to-answer time of the newest commands a device answered (ms)."""
    stmt = (
        select(CommandRow.sent_at, CommandRow.completed_at)
        .where(
            CommandRow.success.is_not(None),
            CommandRow.sent_at.is_not(None),
            CommandRow.completed_at.is_not(None),
            CommandRow.device_id.is_not(None),
        )
        .order_by(CommandRow.completed_at.desc())
        .limit(LATENCY_SAMPLE)
    )
    if device_id is not None:
        stmt = stmt.where(CommandRow.device_id == device_id)
    if since is not None:
        stmt = stmt.where(CommandRow.completed_at >= since)
    rows = await session.execute(stmt)
    trips = [(done - sent).total_seconds() for sent, done in rows if sent and done]
    return 1000 * sum(trips) / len(trips) if trips else None


async def backups_bytes(session: AsyncSession) -> int:
    """Bytes of the completed backups not yet pruned."""
    total = await session.scalar(
        select(func.coalesce(func.sum(BackupRow.size_bytes), 0)).where(
            BackupRow.status == BackupStatus.COMPLETED.value, BackupRow.pruned_at.is_(None)
        )
    )
    return int(total or 0)


async def store_bytes(session: AsyncSession) -> int | None:
    """The store's size: the SQLite file (with its WAL) or the PostgreSQL database."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        size = await session.scalar(text("SELECT pg_database_size(current_database())"))
        return int(size or 0)
    database = bind.engine.url.database
    if not database or database == ":memory:":
        return None
    files: Sequence[Path] = [Path(database), Path(f"{database}-wal")]
    return sum(path.stat().st_size for path in files if path.exists())
