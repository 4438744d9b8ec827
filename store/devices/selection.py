"""Which devices a command job or broadcast targets: counted and paged by device ID."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import Device

# SQLite allows at most 32766 bound parameters; IN lists are cut well below that.
_CHUNK = 500


def _chunks(items: Sequence[str]) -> list[Sequence[str]]:
    return [items[start : start + _CHUNK] for start in range(0, len(items), _CHUNK)]


async def count_selected(
    session: AsyncSession, *, device_type: str | None, device_ids: Sequence[str] | None
) -> int:
    stmt = select(func.count()).select_from(Device)
    if device_type is not None:
        stmt = stmt.where(Device.device_type == device_type)
    if device_ids is not None:
        total = 0
        for chunk in _chunks(sorted(set(device_ids))):
            total += int(await session.scalar(stmt.where(Device.device_id.in_(chunk))) or 0)
        return total
    return int(await session.scalar(stmt) or 0)


async def select_page(
    session: AsyncSession,
    *,
    device_type: str | None,
    device_ids: Sequence[str] | None,
    after: str | None,
    limit: int,
) -> list[str]:
    """Device IDs of a selection in order, the `limit` after `after` (keyset paging)."""
    stmt = select(Device.device_id).order_by(Device.device_id).limit(limit)
    if device_type is not None:
        stmt = stmt.where(Device.device_type == device_type)
    if after is not None:
        stmt = stmt.where(Device.device_id > after)
    if device_ids is None:
        return list(await session.scalars(stmt))
    # An explicit list: page through it in order, keeping only devices the inventory has.
    wanted = sorted(set(device_ids))
    if after is not None:
        wanted = [device_id for device_id in wanted if device_id > after]
    page: list[str] = []
    for chunk in _chunks(wanted):
        page.extend(await session.scalars(stmt.where(Device.device_id.in_(chunk))))
        if len(page) >= limit:
            break
    return page[:limit]


async def online_of_type(session: AsyncSession, *, device_type: str) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(Device)
            .where(Device.device_type == device_type, Device.presence_online.is_(True))
        )
        or 0
    )
