"""Node facts on inventory rows: what the worker last read of each device's Node.

Written only by the node sync (activities.devices.sync) in one transaction per round, so
a reader sees one consistent round. Only rows already in the inventory are touched:
Nodes nobody joined through us are not devices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import Device


@dataclass(frozen=True, kw_only=True)
class NodeFacts:
    node_name: str
    ready: bool
    roles: list[str] = field(default_factory=list)
    version: str | None = None
    addresses: list[dict[str, str]] = field(default_factory=list)
    pods: int = 0
    apps: list[dict[str, Any]] = field(default_factory=list)
    created_at: datetime | None = None  # the Node's creationTimestamp, when the API gave one
    ready_since: datetime | None = None  # last transition of the Ready condition
    heartbeat_at: datetime | None = None  # the Ready condition's lastHeartbeatTime


def _when(name: str) -> Any:
    return bindparam(name, type_=Device.node_synced_at.type)


async def apply_node_facts(
    session: AsyncSession, *, facts: Sequence[NodeFacts], observed_at: datetime
) -> None:
    """Overwrite the facts of the rows whose node_name was seen (one executemany)."""
    if not facts:
        return
    table = cast(Table, Device.__table__)
    statement = (
        update(table)
        .where(table.c.node_name == bindparam("b_node"))
        .values(
            node_ready=bindparam("b_ready"),
            node_roles=bindparam("b_roles", type_=table.c.node_roles.type),
            node_version=bindparam("b_version"),
            node_addresses=bindparam("b_addresses", type_=table.c.node_addresses.type),
            node_pods=bindparam("b_pods"),
            node_apps=bindparam("b_apps", type_=table.c.node_apps.type),
            # No creationTimestamp (the sandbox sends none): keep when we first saw it.
            node_created_at=func.coalesce(
                _when("b_created"), table.c.node_created_at, _when("b_observed")
            ),
            node_ready_since=_when("b_since"),
            node_heartbeat_at=_when("b_heartbeat"),
            node_synced_at=_when("b_observed"),
        )
    )
    params = [
        {
            "b_node": fact.node_name,
            "b_ready": fact.ready,
            "b_roles": fact.roles,
            "b_version": fact.version,
            "b_addresses": fact.addresses,
            "b_pods": fact.pods,
            "b_apps": fact.apps,
            "b_created": fact.created_at,
            "b_since": fact.ready_since,
            "b_heartbeat": fact.heartbeat_at,
            "b_observed": observed_at,
        }
        for fact in facts
    ]
    await session.execute(statement, params)


async def forget_unseen(session: AsyncSession, *, observed_at: datetime) -> int:
    """Rows whose Node was not in this round's listing: there is no such Node (any more)."""
    result = await session.execute(
        update(Device)
        .where(or_(Device.node_synced_at.is_(None), Device.node_synced_at < observed_at))
        .values(
            node_ready=None,
            node_roles=None,
            node_version=None,
            node_addresses=None,
            node_pods=None,
            node_apps=None,
            node_created_at=None,
            node_ready_since=None,
            node_heartbeat_at=None,
            node_synced_at=observed_at,
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def count_seen(session: AsyncSession, *, observed_at: datetime) -> int:
    """Inventory rows whose Node this round saw (call before forget_unseen)."""
    query = select(func.count()).select_from(Device).where(Device.node_synced_at == observed_at)
    return int(await session.scalar(query) or 0)
