"""The device list as Python renders it: the readable specification that the statements the
API runs (store/devices/list_json.py) are held against, item for item.

`reference_page` reads the rows with SQLAlchemy (its datetime and JSON processing, as
every other read of the store), and `reference_item` renders one as the DeviceItem schema
says, ready for pydantic_core.to_json (tests/api/devices/test_device_item.py checks it
against DeviceItem).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.humanize import age
from store.models import Device


class DeviceListRow(NamedTuple):
    """What one item of the device list shows."""

    device_id: str
    node_name: str
    node_id: str
    status: str
    device_type: str | None
    location: str | None
    created_at: datetime
    node_ready: bool | None
    node_roles: list[str] | None
    node_version: str | None
    node_addresses: list[dict[str, str]] | None
    node_pods: int | None
    node_created_at: datetime | None
    node_synced_at: datetime | None


async def reference_page(
    session: AsyncSession, *, offset: int, limit: int
) -> tuple[list[DeviceListRow], int]:
    """One page of rows in device_id order, and the total."""
    table = cast(Table, Device.__table__)
    columns = [table.c[name] for name in DeviceListRow._fields]
    rows = await session.execute(
        select(*columns).order_by(table.c.device_id).offset(offset).limit(limit)
    )
    total = await session.scalar(select(func.count()).select_from(table))
    return [DeviceListRow._make(row) for row in rows], int(total or 0)


def reference_item(row: DeviceListRow, *, now: datetime) -> dict[str, Any]:
    """A DeviceItem as a plain dict, in its field order."""
    return {
        "node_name": row.node_name,
        "device_id": row.device_id,
        "status": "Ready" if row.node_ready else "NotReady",
        "roles": list(row.node_roles) if row.node_roles else [],
        "age": age(row.node_created_at or row.created_at, now=now),
        "version": row.node_version,
        "pods_count": row.node_pods or 0,
        "addresses": [{"type": a["type"], "address": a["address"]} for a in row.node_addresses]
        if row.node_addresses
        else [],
        "node_id": row.node_id,
        "join_status": row.status,
        "device_type": row.device_type,
        "location": row.location,
        "observed_at": row.node_synced_at,
    }
