"""Alert rules: what they may test, and their rows (defaults come with migration 0010)."""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import AlertRule, utcnow
from store.upsert import upsert

# What a rule may test, from a device's latest sample and its presence.
RULE_METRICS = (
    "cpu_usage",  # percent
    "memory_percent",  # memory_usage / memory_total
    "disk_percent",  # disk_usage / disk_total
    "memory_usage",  # GB
    "disk_usage",  # GB
    "temperature",  # °C
    "offline",  # 1 while the device is offline, else 0
)
OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
SEVERITIES = ("info", "warning", "critical")


async def list_rules(session: AsyncSession, *, enabled_only: bool = False) -> Sequence[AlertRule]:
    stmt = select(AlertRule).order_by(AlertRule.name)
    if enabled_only:
        stmt = stmt.where(AlertRule.enabled.is_(True))
    return (await session.scalars(stmt)).all()


async def put_rule(
    session: AsyncSession,
    *,
    name: str,
    metric: str,
    op: str,
    threshold: float,
    for_seconds: int,
    severity: str,
    enabled: bool,
) -> AlertRule:
    """Create or replace the rule `name`; the caller has validated every field."""
    values = {
        "name": name,
        "metric": metric,
        "op": op,
        "threshold": threshold,
        "for_seconds": for_seconds,
        "severity": severity,
        "enabled": enabled,
        "updated_at": utcnow(),
    }
    await upsert(session, model=AlertRule, values=values, key="name", update=list(values)[1:])
    rule = await session.get(AlertRule, name, populate_existing=True)
    assert rule is not None  # just written in this transaction
    return rule
