"""Alert evaluation with Prometheus' semantics, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.devices import inventory, presence
from store.models import AlertRow, utcnow
from store.monitoring import alert_rules, alerts
from store.monitoring.samples import Sample, node_ids, record_samples
from store.monitoring.values import MetricValues

Sessions = async_sessionmaker[AsyncSession]
FRESH = timedelta(minutes=2)
WINDOW = timedelta(minutes=2)


async def setup(sessions: Sessions, now: datetime) -> str:
    """One online device, and only the rule under test enabled."""
    async with sessions() as session, session.begin():
        await inventory.upsert_device(session, device_id="d1", node_name="n1", status="joined")
        await presence.apply_heartbeats(
            session, beats=[presence.Heartbeat(device_id="d1", at=now, usage={})]
        )
        for rule in await alert_rules.list_rules(session):
            rule.enabled = False
        await alert_rules.put_rule(
            session,
            name="hot",
            metric="cpu_usage",
            op=">",
            threshold=90,
            for_seconds=60,
            severity="warning",
            enabled=True,
        )
        return (await node_ids(session, device_ids=["d1"]))["d1"]


async def cpu(sessions: Sessions, node_id: str, at: datetime, value: float) -> None:
    async with sessions() as session, session.begin():
        sample = MetricValues(values={"cpu_usage": value})
        await record_samples(
            session, samples=[Sample(node_id=node_id, ts=int(at.timestamp()), values=sample)]
        )


async def evaluate(sessions: Sessions, now: datetime) -> list[tuple[str, str]]:
    async with sessions() as session, session.begin():
        changed = await alerts.evaluate(session, now=now, fresh_for=FRESH, online_window=WINDOW)
    return [(change.rule, change.state) for change in changed]


async def states(sessions: Sessions) -> list[str]:
    async with sessions() as session:
        return list(await session.scalars(select(AlertRow.state).order_by(AlertRow.id)))


async def test_a_condition_fires_after_its_duration_and_resolves(sessions: Sessions) -> None:
    t0 = utcnow().replace(microsecond=0)
    node_id = await setup(sessions, t0)
    # One spike: pending, then gone without a trace when it passes.
    await cpu(sessions, node_id, t0, 95)
    assert await evaluate(sessions, t0) == []
    assert await states(sessions) == ["pending"]
    await cpu(sessions, node_id, t0 + timedelta(seconds=15), 20)
    assert await evaluate(sessions, t0 + timedelta(seconds=15)) == []
    assert await states(sessions) == []
    # Held for the rule's 60 s: fires once, stays one alert while it holds.
    for seconds in (30, 60, 90):
        await cpu(sessions, node_id, t0 + timedelta(seconds=seconds), 97)
    assert await evaluate(sessions, t0 + timedelta(seconds=30)) == []
    assert await evaluate(sessions, t0 + timedelta(seconds=90)) == [("hot", "firing")]
    assert await evaluate(sessions, t0 + timedelta(seconds=91)) == []
    assert await states(sessions) == ["firing"]
    await cpu(sessions, node_id, t0 + timedelta(seconds=100), 10)
    assert await evaluate(sessions, t0 + timedelta(seconds=100)) == [("hot", "resolved")]
    assert await states(sessions) == ["resolved"]
    async with sessions() as session:
        rows, total = await alerts.list_alerts(
            session, state="resolved", device_id="d1", offset=0, limit=10
        )
        assert total == 1
        assert rows[0].started_at == t0 + timedelta(seconds=90)
        assert rows[0].resolved_at == t0 + timedelta(seconds=100)


async def test_disabling_a_rule_resolves_its_alerts_and_offline_devices_fire(
    sessions: Sessions,
) -> None:
    t0 = utcnow().replace(microsecond=0)
    node_id = await setup(sessions, t0)
    async with sessions() as session, session.begin():
        await alert_rules.put_rule(
            session,
            name="hot",
            metric="cpu_usage",
            op=">",
            threshold=90,
            for_seconds=0,
            severity="warning",
            enabled=True,
        )
        await alert_rules.put_rule(
            session,
            name="gone",
            metric="offline",
            op=">",
            threshold=0,
            for_seconds=0,
            severity="critical",
            enabled=True,
        )
    await cpu(sessions, node_id, t0, 99)
    assert await evaluate(sessions, t0) == [("hot", "firing")]
    async with sessions() as session, session.begin():
        rules = {rule.name: rule for rule in await alert_rules.list_rules(session)}
        rules["hot"].enabled = False
        await presence.mark_offline(session, device_ids=["d1"])
    changed = await evaluate(sessions, t0 + timedelta(seconds=1))
    assert sorted(changed) == [("gone", "firing"), ("hot", "resolved")]
