"""The Edge API's writes to the inventory: register a node, take its status reports.

A registered node is an ordinary inventory row (store.devices.inventory): the CloudCore API lists
it as a device and a later join of the same device_id provisions it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import Device, new_node_id, utcnow

REGISTERED = "registered"  # devices.status of a node known only from POST /api/v1/nodes


async def register_node(
    session: AsyncSession,
    *,
    device_id: str,
    node_name: str,
    address: str | None,
    capabilities: list[str],
    resources: dict[str, Any],
    labels: dict[str, str],
) -> Device:
    """Insert the row; the caller has checked that neither name nor device_id is taken."""
    now = utcnow()
    row = Device(
        device_id=device_id,
        node_name=node_name,
        node_id=new_node_id(),
        status=REGISTERED,
        configuration={},
        address=address,
        capabilities=capabilities,
        resources=resources,
        labels=labels,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def report_status(
    session: AsyncSession,
    *,
    node_id: str,
    status: str | None,
    heartbeat_at: datetime | None,
    usage: dict[str, Any] | None,
) -> bool:
    """Record what a node says about itself; only the fields given change."""
    values: dict[str, Any] = {"updated_at": utcnow()}
    if status is not None:
        values["reported_status"] = status
    if heartbeat_at is not None:
        values["last_seen"] = heartbeat_at
    if usage is not None:
        values["usage"] = usage
        values["usage_reported_at"] = utcnow()
    result = await session.execute(update(Device).where(Device.node_id == node_id).values(**values))
    return bool(result.rowcount)  # type: ignore[attr-defined]
