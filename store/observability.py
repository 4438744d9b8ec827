"""What the store knows that operators chart: the fleet by state and type, the store's
size, the last good backup, and the figures other processes leave in their health rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import AlertRow, BackupRow, Device
from store.monitoring.alerts import FIRING
from workflows.contracts.backup import BackupStatus

# Device types are free text: beyond this many distinct ones the rest count as "other",
# so a careless client cannot blow up a gauge's label set.
MAX_DEVICE_TYPES = 20
OTHER_TYPE = "other"
UNKNOWN_TYPE = "unknown"


@dataclass(frozen=True, kw_only=True)
class FleetCount:
    status: str
    device_type: str
    devices: int


@dataclass(frozen=True, kw_only=True)
class FleetFigures:
    by_state: list[FleetCount]
    online: int
    alerts_firing: dict[str, int]  # by severity


async def fleet_figures(session: AsyncSession) -> FleetFigures:
    rows = (
        await session.execute(
            select(Device.status, Device.device_type, func.count()).group_by(
                Device.status, Device.device_type
            )
        )
    ).all()
    online = await session.scalar(
        select(func.count()).select_from(Device).where(Device.presence_online.is_(True))
    )
    firing = (
        await session.execute(
            select(AlertRow.severity, func.count())
            .where(AlertRow.state == FIRING)
            .group_by(AlertRow.severity)
        )
    ).all()
    counts = [(status, device_type, int(count)) for status, device_type, count in rows]
    return FleetFigures(
        by_state=_bounded_types(counts),
        online=int(online or 0),
        alerts_firing={severity: int(count) for severity, count in firing},
    )


def _bounded_types(rows: list[tuple[str, str | None, int]]) -> list[FleetCount]:
    totals: dict[str, int] = {}
    for _, device_type, count in rows:
        name = device_type or UNKNOWN_TYPE
        totals[name] = totals.get(name, 0) + count
    kept = set(sorted(totals, key=lambda name: (-totals[name], name))[:MAX_DEVICE_TYPES])
    merged: dict[tuple[str, str], int] = {}
    for status, device_type, count in rows:
        name = device_type or UNKNOWN_TYPE
        key = (status, name if name in kept else OTHER_TYPE)
        merged[key] = merged.get(key, 0) + count
    return [
        FleetCount(status=status, device_type=device_type, devices=count)
        for (status, device_type), count in sorted(merged.items())
    ]


async def store_size_bytes(session: AsyncSession) -> int:
    """Bytes the database takes: SQLite's pages, or PostgreSQL's database size."""
    dialect = session.bind.dialect.name if session.bind is not None else ""
    if dialect == "sqlite":
        pages = await session.scalar(text("PRAGMA page_count"))
        size = await session.scalar(text("PRAGMA page_size"))
        return int(pages or 0) * int(size or 0)
    found = await session.scalar(text("SELECT pg_database_size(current_database())"))
    return int(found or 0)


async def last_good_backup_at(session: AsyncSession) -> datetime | None:
    found: datetime | None = await session.scalar(
        select(func.max(BackupRow.completed_at)).where(
            BackupRow.status == BackupStatus.COMPLETED.value
        )
    )
    return found
