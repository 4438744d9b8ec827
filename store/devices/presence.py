"""Device presence over MQTT: online, last heartbeat, usage (columns `presence_*`).

The bridge writes heartbeats in batches (one executemany per flush), marks devices
offline on a last will or when their heartbeats stop, and asks which devices just came
back. Every query is keyed by `device_id`, which is unique and indexed; devices the
inventory does not know are ignored (their UPDATE matches no row).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import Device
from workflows.contracts.join import JoinStatus

# SQLite allows at most 32766 bound parameters; IN lists are cut well below that.
_CHUNK = 500


@dataclass(frozen=True, kw_only=True)
class Heartbeat:
    device_id: str
    at: datetime
    usage: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class DevicePresence:
    device_id: str
    node_name: str
    online: bool


@dataclass(frozen=True, kw_only=True)
class DeviceName:
    device_id: str
    node_name: str


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


async def offline_among(session: AsyncSession, *, device_ids: Sequence[str]) -> set[str]:
    """Those of `device_ids` the inventory knows and holds as offline right now."""
    found: set[str] = set()
    for chunk in _chunks(device_ids):
        rows = await session.scalars(
            select(Device.device_id).where(
                Device.device_id.in_(chunk), Device.presence_online.is_(False)
            )
        )
        found.update(rows)
    return found


async def apply_heartbeats(session: AsyncSession, *, beats: Sequence[Heartbeat]) -> None:
    """One executemany: every device of the batch is online with its latest heartbeat."""
    if not beats:
        return
    table = cast(Table, Device.__table__)
    stmt = (
        update(table)
        .where(table.c.device_id == bindparam("b_device_id"))
        .values(
            presence_online=True,
            presence_heartbeat_at=bindparam("b_at"),
            presence_usage=bindparam("b_usage"),
        )
    )
    params = [{"b_device_id": b.device_id, "b_at": b.at, "b_usage": b.usage} for b in beats]
    await session.execute(stmt, params)


async def mark_offline(session: AsyncSession, *, device_ids: Sequence[str]) -> list[DeviceName]:
    """Turn these devices offline; returns those that were online (they just left)."""
    left: list[DeviceName] = []
    for chunk in _chunks(device_ids):
        rows = await session.execute(
            update(Device)
            .where(Device.device_id.in_(chunk), Device.presence_online.is_(True))
            .values(presence_online=False)
            .returning(Device.device_id, Device.node_name)
        )
        left.extend(DeviceName(device_id=d, node_name=n) for d, n in rows)
    return left


async def sweep_silent(session: AsyncSession, *, heard_before: datetime) -> list[DeviceName]:
    """Online devices whose last heartbeat is older than `heard_before` go offline.

    A conditional UPDATE, so with several bridge replicas each device is reported by the
    one replica whose statement flipped it.
    """
    rows = await session.execute(
        update(Device)
        .where(
            Device.presence_online.is_(True),
            Device.presence_heartbeat_at < heard_before,
        )
        .values(presence_online=False)
        .returning(Device.device_id, Device.node_name)
    )
    return [DeviceName(device_id=d, node_name=n) for d, n in rows]


async def joins_waiting(session: AsyncSession, *, device_ids: Sequence[str]) -> list[str]:
    """Devices among these whose join run still waits for the node."""
    waiting: list[str] = []
    for chunk in _chunks(device_ids):
        rows = await session.scalars(
            select(Device.device_id).where(
                Device.device_id.in_(chunk),
                Device.status == JoinStatus.WAITING_FOR_NODE.value,
            )
        )
        waiting.extend(rows)
    return waiting


async def node_names(session: AsyncSession, *, device_ids: Sequence[str]) -> dict[str, str]:
    names: dict[str, str] = {}
    for chunk in _chunks(device_ids):
        rows = await session.execute(
            select(Device.device_id, Device.node_name).where(Device.device_id.in_(chunk))
        )
        names.update((device_id, node_name) for device_id, node_name in rows)
    return names


async def presence_of(session: AsyncSession, *, device_id: str) -> DevicePresence | None:
    """Where one device stands, or None when the inventory does not know it."""
    row = (
        await session.execute(
            select(Device.node_name, Device.presence_online).where(Device.device_id == device_id)
        )
    ).first()
    if row is None:
        return None
    return DevicePresence(device_id=device_id, node_name=row[0], online=bool(row[1]))
