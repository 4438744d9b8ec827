"""The device inventory: one row per device and the node it runs as."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.db import read_connection
from store.devices.list_json import DEVICE_ITEMS, DEVICE_PAGE_POSTGRESQL, now_param
from store.models import Device, utcnow
from store.upsert import upsert


async def get_device(session: AsyncSession, *, device_id: str) -> Device | None:
    return await session.scalar(select(Device).where(Device.device_id == device_id))


async def node_owner(session: AsyncSession, *, node_name: str) -> str | None:
    """The device_id that holds `node_name` in the inventory, if any."""
    return await session.scalar(select(Device.device_id).where(Device.node_name == node_name))


async def holders(
    session: AsyncSession, *, device_id: str, node_name: str
) -> list[tuple[str, str]]:
    """(device_id, node_name) of the rows holding this device or this node: one query."""
    rows = await session.execute(
        select(Device.device_id, Device.node_name).where(
            (Device.node_name == node_name) | (Device.device_id == device_id)
        )
    )
    return [(row.device_id, row.node_name) for row in rows]


async def upsert_device(
    session: AsyncSession,
    *,
    device_id: str,
    node_name: str,
    status: str,
    device_type: str | None = None,
    location: str | None = None,
    configuration: dict[str, Any] | None = None,
    workflow_id: str | None = None,
) -> None:
    values = {
        "device_id": device_id,
        "node_name": node_name,
        "status": status,
        "device_type": device_type,
        "location": location,
        "configuration": configuration or {},
        "workflow_id": workflow_id,
        "created_at": utcnow(),
        "updated_at": utcnow(),
    }
    changing = ["node_name", "status", "device_type", "location", "configuration"]
    await upsert(
        session,
        model=Device,
        values=values,
        key="device_id",
        update=[*changing, "workflow_id", "updated_at"],
    )


async def set_status(
    session: AsyncSession, *, device_id: str, status: str, joined_at: datetime | None = None
) -> bool:
    values: dict[str, Any] = {"status": status, "updated_at": utcnow()}
    if joined_at is not None:
        values["joined_at"] = joined_at
    result = await session.execute(
        update(Device).where(Device.device_id == device_id).values(**values)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def delete_device(session: AsyncSession, *, device_id: str) -> bool:
    result = await session.execute(delete(Device).where(Device.device_id == device_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def list_devices(session: AsyncSession, *, offset: int, limit: int) -> Sequence[Device]:
    stmt = select(Device).order_by(Device.device_id).offset(offset).limit(limit)
    return (await session.scalars(stmt)).all()


# --- inventory views ------------------------------------------------------------------


async def count_devices(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Device)) or 0)


async def get_by_node_id(session: AsyncSession, *, node_id: str) -> Device | None:
    return await session.scalar(select(Device).where(Device.node_id == node_id))


async def mark_node_ready(session: AsyncSession, *, device_id: str, at: datetime) -> None:
    """The join saw the Node Ready: say so before the next node sync fills in the rest."""
    await session.execute(
        update(Device)
        .where(Device.device_id == device_id)
        .values(node_ready=True, node_ready_since=func.coalesce(Device.node_ready_since, at))
    )


class DeviceSummary(Protocol):
    """What the device and node lists show: a few columns, not the whole row (a page of
    full rows costs three times as much to load, mostly JSON nobody lists)."""

    @property
    def device_id(self) -> str: ...
    @property
    def node_name(self) -> str: ...
    @property
    def node_id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def device_type(self) -> str | None: ...
    @property
    def location(self) -> str | None: ...
    @property
    def address(self) -> str | None: ...
    @property
    def reported_status(self) -> str | None: ...
    @property
    def last_seen(self) -> datetime | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def node_ready(self) -> bool | None: ...
    @property
    def node_roles(self) -> list[str] | None: ...
    @property
    def node_version(self) -> str | None: ...
    @property
    def node_addresses(self) -> list[dict[str, str]] | None: ...
    @property
    def node_pods(self) -> int | None: ...
    @property
    def node_created_at(self) -> datetime | None: ...
    @property
    def node_heartbeat_at(self) -> datetime | None: ...
    @property
    def node_synced_at(self) -> datetime | None: ...
    @property
    def presence_online(self) -> bool: ...
    @property
    def presence_heartbeat_at(self) -> datetime | None: ...


# The columns of DeviceSummary, in its order.
_SUMMARY = (
    Device.device_id,
    Device.node_name,
    Device.node_id,
    Device.status,
    Device.device_type,
    Device.location,
    Device.address,
    Device.reported_status,
    Device.last_seen,
    Device.created_at,
    Device.node_ready,
    Device.node_roles,
    Device.node_version,
    Device.node_addresses,
    Device.node_pods,
    Device.node_created_at,
    Device.node_heartbeat_at,
    Device.node_synced_at,
    Device.presence_online,
    Device.presence_heartbeat_at,
)


def _summaries(*, offset: int, limit: int) -> Any:
    # Table columns, not ORM attributes: plain rows skip the ORM's per-row work. The total
    # rides along as an uncorrelated subquery (evaluated once) rather than a second
    # statement: a round trip less per page, and page and total from one snapshot.
    table = cast(Table, Device.__table__)
    columns = [table.c[column.key] for column in _SUMMARY]
    total = select(func.count()).select_from(table).scalar_subquery().label("total")
    return select(*columns, total).order_by(table.c.device_id).offset(offset).limit(limit)


async def list_summaries(
    session: AsyncSession, *, offset: int, limit: int
) -> tuple[Sequence[DeviceSummary], int]:
    """One page of summaries in device_id order, and the total."""
    # Core rows straight from the connection: the ORM's execute path adds nothing here.
    stmt = _summaries(offset=offset, limit=limit)
    rows = (await (await read_connection(session)).execute(stmt)).all()
    if not rows:  # past the end (or no devices): the subquery had no row to ride on
        return cast(Sequence[DeviceSummary], rows), await count_devices(session)
    return cast(Sequence[DeviceSummary], rows), int(rows[0].total)


# --- the device list (CloudCore GET /devices), rendered by the database -------------


@dataclass(frozen=True)
class ItemsPage:
    """A page of the device list: its items' JSON texts joined by commas (no brackets),
    how many items that is, and the total."""

    joined: str
    count: int
    total: int


async def list_page(session: AsyncSession, *, offset: int, limit: int, now: datetime) -> ItemsPage:
    """One page of the device list in device_id order, each item as its JSON text (made by
    the database: store/devices/list_json.py)."""
    connection = await read_connection(session)
    dialect = connection.dialect.name
    params = {"now": now_param(now, dialect), "offset": offset, "limit": limit}
    if dialect == "postgresql":  # one row, the items already joined
        page = (await connection.execute(DEVICE_PAGE_POSTGRESQL, params)).one()
        return ItemsPage(joined=page.items or "", count=page.item_count, total=page.total)
    rows = (await connection.execute(DEVICE_ITEMS[dialect], params)).all()
    if not rows:  # past the end (or no devices)
        return ItemsPage(joined="", count=0, total=await count_devices(session))
    return ItemsPage(joined=",".join(row[0] for row in rows), count=len(rows), total=rows[0][1])


async def list_chunks(
    session: AsyncSession, *, offset: int, limit: int, size: int, now: datetime
) -> AsyncIterator[tuple[list[str], int]]:
    """`list_page` for long lists: `size` items at a time from a server-side cursor, each
    chunk with the total (nothing at all past the end). A caller that sends each chunk
    before asking for the next holds one chunk at a time."""
    connection = await session.connection()
    dialect = connection.dialect.name
    params = {"now": now_param(now, dialect), "offset": offset, "limit": limit}
    result = await connection.stream(DEVICE_ITEMS[dialect], params)
    try:
        async for chunk in result.partitions(size):
            yield [row[0] for row in chunk], int(chunk[0][1])
    finally:
        await result.close()
