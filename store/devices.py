"""The device inventory: one row per device and the node it runs as."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import Device, utcnow
from store.upsert import upsert


async def get_device(session: AsyncSession, *, device_id: str) -> Device | None:
    return await session.scalar(select(Device).where(Device.device_id == device_id))


async def node_owner(session: AsyncSession, *, node_name: str) -> str | None:
    """The device_id that holds `node_name` in the inventory, if any."""
    return await session.scalar(select(Device.device_id).where(Device.node_name == node_name))


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
