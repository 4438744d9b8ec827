"""Alert evaluation with Prometheus' rule semantics, and the alerts' reads and writes.

Each round compares every enabled rule with every device's latest readings. A condition
that starts to hold makes a `pending` alert; once it has held `for_seconds` the alert is
`firing`; when it stops holding a firing alert is `resolved` and a pending one vanishes
(no alert on one spike). At most one alert is open per (rule, device). All state is in
the store, so whichever process evaluates next carries on where the last one stopped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import AlertRow, AlertRule, Device, MetricSample
from store.monitoring.alert_rules import OPS, list_rules
from store.monitoring.fleet import online_clause

PENDING, FIRING, RESOLVED = "pending", "firing", "resolved"
OPEN = (PENDING, FIRING)


@dataclass(frozen=True, kw_only=True)
class Transition:
    alert_id: int
    rule: str
    device_id: str
    node_name: str | None
    severity: str
    state: str  # firing or resolved
    message: str
    value: float | None
    at: datetime


async def readings(
    session: AsyncSession, *, now: datetime, fresh_for: timedelta, online_window: timedelta
) -> dict[str, tuple[str, dict[str, float]]]:
    """device_id -> (node_name, metric -> value) for devices that ever connected or have a
    fresh sample."""
    since = int((now - fresh_for).timestamp())
    newest = (
        select(MetricSample.node_id, func.max(MetricSample.ts).label("ts"))
        .where(MetricSample.ts >= since)
        .group_by(MetricSample.node_id)
        .subquery()
    )
    latest = select(MetricSample).join(
        newest, and_(MetricSample.node_id == newest.c.node_id, MetricSample.ts == newest.c.ts)
    )
    samples = {row.node_id: row for row in (await session.scalars(latest)).all()}
    online = online_clause(now=now, online_window=online_window).label("online")
    seen = (
        Device.presence_heartbeat_at.is_not(None)
        | Device.last_seen.is_not(None)
        | Device.node_ready.is_not(None)
    ).label("seen")
    devices = await session.execute(
        select(Device.device_id, Device.node_name, Device.node_id, online, seen)
    )
    found: dict[str, tuple[str, dict[str, float]]] = {}
    for device_id, node_name, node_id, is_online, was_seen in devices:
        values: dict[str, float] = {}
        if was_seen:  # never connected (only registered, or only posting metrics): not offline
            values["offline"] = 0.0 if is_online else 1.0
        sample = samples.get(node_id)
        if sample is not None:
            values.update(_sample_values(sample))
        if values:
            found[device_id] = (node_name, values)
    return found


def _sample_values(sample: MetricSample) -> dict[str, float]:
    values: dict[str, float] = {}
    for name in ("cpu_usage", "memory_usage", "disk_usage", "temperature"):
        value = getattr(sample, name)
        if value is not None:
            values[name] = value
    for used, total, name in (
        (sample.memory_usage, sample.memory_total, "memory_percent"),
        (sample.disk_usage, sample.disk_total, "disk_percent"),
    ):
        if used is not None and total:
            values[name] = 100.0 * used / total
    return values


def _message(rule: AlertRule, value: float) -> str:
    held = f" for {rule.for_seconds} s" if rule.for_seconds else ""
    return f"{rule.metric} {value:g} {rule.op} {rule.threshold:g}{held}"[:300]


async def evaluate(
    session: AsyncSession,
    *,
    now: datetime,
    fresh_for: timedelta,
    online_window: timedelta,
) -> list[Transition]:
    """One round in the caller's transaction; returns what fired and what resolved."""
    rules = await list_rules(session, enabled_only=True)
    current = await readings(session, now=now, fresh_for=fresh_for, online_window=online_window)
    open_alerts = {
        (row.rule, row.device_id): row
        for row in (await session.scalars(select(AlertRow).where(AlertRow.state.in_(OPEN)))).all()
    }
    changed: list[AlertRow] = []
    for rule in rules:
        test = OPS[rule.op]
        for device_id, (node_name, values) in current.items():
            value = values.get(rule.metric)
            alert = open_alerts.pop((rule.name, device_id), None)
            if value is not None and test(value, rule.threshold):
                if alert is None:
                    alert = AlertRow(
                        rule=rule.name,
                        device_id=device_id,
                        node_name=node_name,
                        severity=rule.severity,
                        state=PENDING,
                        message=_message(rule, value),
                        value=value,
                        pending_since=now,
                    )
                    session.add(alert)
                alert.value = value
                held = (now - alert.pending_since).total_seconds()
                if alert.state == PENDING and held >= rule.for_seconds:
                    alert.state, alert.started_at = FIRING, now
                    alert.message = _message(rule, value)
                    changed.append(alert)
            elif alert is not None:
                changed.extend(await _end(session, alert, now=now))
    # Open alerts of rules now disabled or gone, or of devices removed, end too.
    for alert in open_alerts.values():
        changed.extend(await _end(session, alert, now=now))
    await session.flush()  # ids for the new ones
    return [_transition(alert, now=now) for alert in changed]


async def _end(session: AsyncSession, alert: AlertRow, *, now: datetime) -> list[AlertRow]:
    if alert.state == PENDING:
        await session.delete(alert)
        return []
    alert.state, alert.resolved_at = RESOLVED, now
    return [alert]


def _transition(alert: AlertRow, *, now: datetime) -> Transition:
    return Transition(
        alert_id=alert.id,
        rule=alert.rule,
        device_id=alert.device_id,
        node_name=alert.node_name,
        severity=alert.severity,
        state=alert.state,
        message=alert.message,
        value=alert.value,
        at=now,
    )


async def list_alerts(
    session: AsyncSession,
    *,
    state: str | None,
    device_id: str | None,
    offset: int,
    limit: int,
) -> tuple[Sequence[AlertRow], int]:
    """Newest first; pending alerts are not alerts yet and are never listed."""
    conditions: list[Any] = [AlertRow.state.in_((FIRING, RESOLVED))]
    if state is not None:
        conditions.append(AlertRow.state == state)
    if device_id is not None:
        conditions.append(AlertRow.device_id == device_id)
    rows = await session.scalars(
        select(AlertRow).where(*conditions).order_by(AlertRow.id.desc()).offset(offset).limit(limit)
    )
    total = await session.scalar(select(func.count()).select_from(AlertRow).where(*conditions))
    return rows.all(), int(total or 0)


async def acknowledge(
    session: AsyncSession, *, alert_id: int, by: str, now: datetime
) -> AlertRow | None:
    """Mark a listed alert seen (the first acknowledgement counts); None if unknown."""
    alert = await session.get(AlertRow, alert_id)
    if alert is None or alert.state == PENDING:
        return None
    if alert.acknowledged_at is None:
        alert.acknowledged_at, alert.acknowledged_by = now, by
    return alert
