"""Metric samples, rollups and retention on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.devices import inventory
from store.devices.presence import Heartbeat
from store.models import MetricRollup, MetricSample
from store.monitoring import compaction, series
from store.monitoring.heartbeats import record_heartbeats
from store.monitoring.samples import Sample, node_ids, record_samples
from store.monitoring.values import MetricValues, from_heartbeat
from workflows.contracts.monitoring import MetricsRetention

Sessions = async_sessionmaker[AsyncSession]
HOUR = 3600
# A whole hour, so minute, 5-minute and hour buckets all start here.
T0 = 1_800_000_000 - 1_800_000_000 % HOUR
RETENTION = MetricsRetention(
    raw_seconds=2 * HOUR, rollup_1m_seconds=3 * HOUR, rollup_5m_seconds=4 * HOUR
)


def cpu(node: str, ts: int, value: float) -> Sample:
    return Sample(node_id=node, ts=ts, values=MetricValues(values={"cpu_usage": value}))


async def compact(sessions: Sessions, now: int) -> compaction.Compacted:
    async with sessions() as session, session.begin():
        return await compaction.compact(session, now=now, retention=RETENTION, settle_seconds=0)


async def points(sessions: Sessions, node: str, width: int, start: int) -> list[tuple[int, float]]:
    async with sessions() as session:
        found = await series.node_series(session, node_id=node, width=width, start=start)
    return [(p.ts - T0, p.value) for p in found["cpu_usage"]]


async def test_rollups_average_per_bucket_before_and_after_compaction(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        # n1: 10 and 20 in minute 0, 40 in minute 1, 90 in minute 7; n2 reports 50 once.
        await record_samples(
            session,
            samples=[
                cpu("n1", T0 + 5, 10),
                cpu("n1", T0 + 35, 20),
                cpu("n1", T0 + 65, 40),
                cpu("n1", T0 + 7 * 60 + 1, 90),
                cpu("n2", T0 + 10, 50),
            ],
        )
    expected_1m = [(0, 15.0), (60, 40.0), (420, 90.0)]
    expected_5m = [(0, 70 / 3), (300, 90.0)]
    # Before any compaction the raw samples answer.
    assert await points(sessions, "n1", 60, T0) == expected_1m
    assert await points(sessions, "n1", 300, T0) == expected_5m
    done = await compact(sessions, now=T0 + 8 * 60)
    assert done.rollups_written[60] == 4  # n1: 3 minutes, n2: 1
    # The same figures from the rollups, and the hour from the 1m rollups.
    assert await points(sessions, "n1", 60, T0) == expected_1m
    assert await points(sessions, "n1", 300, T0) == expected_5m
    assert await points(sessions, "n1", 3600, T0) == [(0, 40.0)]
    # Fleet: per-bucket averages over every sample, per-node averages over the window.
    async with sessions() as session:
        per_bucket, per_node = await series.fleet(session, width=60, start=T0, retention=RETENTION)
    first = per_bucket["cpu_usage"][0]
    assert (first.ts - T0, first.value) == (0, 80 / 3)
    assert per_node["n1"].average("cpu_usage") == 40.0
    assert per_node["n2"].average("cpu_usage") == 50.0


async def test_compaction_is_idempotent_and_takes_late_samples(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        await record_samples(session, samples=[cpu("n1", T0 + 5, 10), cpu("n1", T0 + 65, 30)])
    await compact(sessions, now=T0 + 120)
    await compact(sessions, now=T0 + 120)  # again: same rows, nothing doubled
    async with sessions() as session:
        rows = await session.scalar(select(func.count()).select_from(MetricRollup))
    # Two 1m buckets, one 5m, one 1h; and the same again for the fleet.
    assert rows == 2 * (2 + 1 + 1)
    # A sample behind the horizon shows at once and is rolled up by the next run.
    async with sessions() as session, session.begin():
        await record_samples(session, samples=[cpu("n1", T0 + 6, 20)])
    assert await points(sessions, "n1", 60, T0) == [(0, 15.0), (60, 30.0)]
    await compact(sessions, now=T0 + 180)
    assert await points(sessions, "n1", 60, T0) == [(0, 15.0), (60, 30.0)]
    assert await points(sessions, "n1", 300, T0) == [(0, 20.0)]
    async with sessions() as session:
        assert await series.horizon(session) == T0 + 180


async def test_retention_prunes_raw_samples_and_each_rollup_width(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        await record_samples(session, samples=[cpu("n1", T0 + 5, 10)])
    await compact(sessions, now=T0 + 600)
    # 2.5 h later the raw sample (2 h) is gone but every rollup is kept...
    later = await compact(sessions, now=T0 + 2 * HOUR + 1800)
    assert later.samples_pruned == 1
    assert await points(sessions, "n1", 60, T0) == [(0, 10.0)]
    # ...3.5 h: 1m rollups (3 h) gone, 5m still answer; 4.5 h: 5m (4 h) gone, 1h kept.
    # Each time n1's rollup and the fleet's.
    assert (await compact(sessions, now=T0 + 3 * HOUR + 1800)).rollups_pruned[60] == 2
    assert await points(sessions, "n1", 60, T0) == []
    assert await points(sessions, "n1", 300, T0) == [(0, 10.0)]
    assert (await compact(sessions, now=T0 + 4 * HOUR + 1800)).rollups_pruned[300] == 2
    assert await points(sessions, "n1", 3600, T0) == [(0, 10.0)]
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(MetricSample)) == 0


async def test_same_node_and_second_is_replaced(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        await record_samples(session, samples=[cpu("n1", T0, 10)])
    async with sessions() as session, session.begin():
        await record_samples(session, samples=[cpu("n1", T0, 30)])
    assert await points(sessions, "n1", 60, T0) == [(0, 30.0)]


def test_heartbeat_readings_in_the_documents_styles() -> None:
    values = from_heartbeat(
        {"cpu": "45%", "memory": "2.3GB/8GB", "temperature": "65°C", "apps": [], "disk": "x"}
    )
    assert values.values == {
        "cpu_usage": 45.0,
        "memory_usage": 2.3,
        "memory_total": 8.0,
        "temperature": 65.0,
    }
    assert from_heartbeat({"memory": "512MB", "cpu": True}).values == {"memory_usage": 0.512}


async def test_heartbeats_are_stored_under_their_devices_nodes(sessions: Sessions) -> None:
    beat_at = datetime.fromtimestamp(T0 + 5, UTC)
    usage = {"cpu": "45%", "memory": "2.3GB/8GB", "temperature": 65}
    async with sessions() as session, session.begin():
        await inventory.upsert_device(session, device_id="d1", node_name="n1", status="joined")
        node = (await node_ids(session, device_ids=["d1"]))["d1"]
        beats = [
            Heartbeat(device_id="d1", at=beat_at, usage=usage),
            Heartbeat(device_id="unknown", at=beat_at, usage=usage),  # not in the inventory
            Heartbeat(device_id="d1", at=beat_at + timedelta(seconds=15), usage={"apps": []}),
        ]
        assert await record_heartbeats(session, beats=beats) == 1
    async with sessions() as session:
        rows = (await session.execute(select(MetricSample))).scalars().all()
    assert [(r.node_id, r.ts, r.cpu_usage, r.memory_total, r.temperature) for r in rows] == [
        (node, T0 + 5, 45.0, 8.0, 65.0)
    ]
    assert rows[0].containers is None
