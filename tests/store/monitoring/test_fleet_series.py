"""The fleet's aggregate (fleet rollups, tiled node totals) and a node's series (rollups and
raw samples in one statement, the horizon read inside it) equal the raw averages."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.db import create_engine
from store.migrate import alembic_config, upgrade_async
from store.monitoring import compaction, series
from store.monitoring.samples import Sample, record_samples
from store.monitoring.values import MetricValues
from workflows.contracts.monitoring import MetricsRetention

Sessions = async_sessionmaker[AsyncSession]
HOUR = 3600
T0 = 1_800_000_000 - 1_800_000_000 % HOUR
RETENTION = MetricsRetention(
    raw_seconds=4 * HOUR, rollup_1m_seconds=5 * HOUR, rollup_5m_seconds=5 * HOUR
)
NODES = ("n1", "n2", "n3")


def samples(rng: random.Random, start: int, end: int) -> list[Sample]:
    found = []
    for node in NODES:
        for ts in range(start + rng.randrange(40), end, 37 + rng.randrange(20)):
            values = {"cpu_usage": rng.uniform(0, 100)}
            if node != "n3" or ts % 2:  # a node that reports memory only sometimes
                values["memory_usage"] = rng.uniform(0, 8)
            found.append(Sample(node_id=node, ts=ts, values=MetricValues(values=values)))
    return found


def expected(
    stored: list[Sample], *, width: int, start: int
) -> tuple[dict[str, list[tuple[int, float]]], dict[str, dict[str, float]]]:
    """Per-bucket and per-node averages straight from the samples."""
    buckets: dict[tuple[str, int], list[float]] = defaultdict(list)
    nodes: dict[tuple[str, str], list[float]] = defaultdict(list)
    for sample in stored:
        if sample.ts < start:
            continue
        for metric, value in sample.values.values.items():
            buckets[(metric, sample.ts - sample.ts % width)].append(value)
            nodes[(sample.node_id, metric)].append(value)
    per_bucket: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for (metric, bucket), values in sorted(buckets.items()):
        per_bucket[metric].append((bucket, sum(values) / len(values)))
    per_node: dict[str, dict[str, float]] = defaultdict(dict)
    for (node, metric), values in nodes.items():
        per_node[node][metric] = sum(values) / len(values)
    return per_bucket, per_node


async def check(sessions: Sessions, stored: list[Sample], *, width: int, start: int) -> None:
    async with sessions() as session:
        found, totals = await series.fleet(session, width=width, start=start, retention=RETENTION)
    want_buckets, want_nodes = expected(stored, width=width, start=start)
    for metric in ("cpu_usage", "memory_usage"):
        got = [(p.ts, p.value) for p in found[metric]]
        assert [ts for ts, _ in got] == [ts for ts, _ in want_buckets[metric]]
        assert [v for _, v in got] == pytest.approx([v for _, v in want_buckets[metric]])
    assert set(totals) == set(NODES)
    for node in NODES:
        for metric, value in want_nodes[node].items():
            assert totals[node].average(metric) == pytest.approx(value)


async def test_fleet_aggregate_equals_raw_averages(sessions: Sessions) -> None:
    rng = random.Random(5)
    stored = samples(rng, T0, T0 + 2 * HOUR + 1234)
    async with sessions() as session, session.begin():
        await record_samples(session, samples=stored)
    # Windows that start off the 5m and 1h grid, so node totals tile 1h, 5m and 1m.
    windows = [(60, T0 + 7 * 60), (60, T0 + 23 * 60), (300, T0 + 5 * 300), (3600, T0)]
    for width, start in windows:  # all raw
        await check(sessions, stored, width=width, start=start)
    async with sessions() as session, session.begin():
        await compaction.compact(
            session, now=T0 + 2 * HOUR + 1000, retention=RETENTION, settle_seconds=0
        )
    for width, start in windows:  # rollups, then raw from the horizon
        await check(sessions, stored, width=width, start=start)
    # A late sample: the rollups from its minute on are stale until the next run.
    late = Sample(node_id="n2", ts=T0 + 41 * 60 + 3, values=MetricValues(values={"cpu_usage": 99}))
    async with sessions() as session, session.begin():
        await record_samples(session, samples=[late])
    for width, start in windows:
        await check(sessions, [*stored, late], width=width, start=start)


async def check_nodes(sessions: Sessions, stored: list[Sample], *, width: int, start: int) -> None:
    for node in NODES:
        async with sessions() as session:
            found = await series.node_series(session, node_id=node, width=width, start=start)
        mine = [sample for sample in stored if sample.node_id == node]
        want, _ = expected(mine, width=width, start=start)
        for metric in ("cpu_usage", "memory_usage"):
            got = [(p.ts, p.value) for p in found[metric]]
            assert [ts for ts, _ in got] == [ts for ts, _ in want[metric]]
            assert [v for _, v in got] == pytest.approx([v for _, v in want[metric]])


async def test_node_series_equals_raw_averages_across_the_horizon(sessions: Sessions) -> None:
    rng = random.Random(9)
    stored = samples(rng, T0, T0 + 2 * HOUR + 1234)
    async with sessions() as session, session.begin():
        await record_samples(session, samples=stored)
    windows = [(60, T0 + 7 * 60), (300, T0 + 5 * 300), (3600, T0)]
    for width, start in windows:  # no compaction yet: no horizon row, all raw
        await check_nodes(sessions, stored, width=width, start=start)
    # The horizon falls inside a 5m and a 1h bucket: those come whole from raw samples.
    async with sessions() as session, session.begin():
        await compaction.compact(
            session, now=T0 + 2 * HOUR + 1000, retention=RETENTION, settle_seconds=0
        )
    for width, start in [*windows, (60, T0 + 2 * HOUR + 900)]:  # a window after the horizon
        await check_nodes(sessions, stored, width=width, start=start)
    # A late sample moves the horizon back to its minute until the next run.
    late = Sample(node_id="n3", ts=T0 + 41 * 60 + 3, values=MetricValues(values={"cpu_usage": 7}))
    async with sessions() as session, session.begin():
        await record_samples(session, samples=[late])
    for width, start in windows:
        await check_nodes(sessions, [*stored, late], width=width, start=start)


def test_tiles_cover_the_window_with_the_coarsest_buckets() -> None:
    widths = (60, 300, 3600)
    assert series.tiles(T0 + 420, T0 + 2 * HOUR + 120, widths=widths) == [
        (3600, T0 + HOUR, T0 + 2 * HOUR),
        (300, T0 + 600, T0 + HOUR),
        (60, T0 + 420, T0 + 600),
        (60, T0 + 2 * HOUR, T0 + 2 * HOUR + 120),
    ]
    assert series.tiles(T0 + 60, T0 + 240, widths=widths) == [(60, T0 + 60, T0 + 240)]
    assert series.tiles(T0, T0, widths=widths) == []


async def test_migration_adds_the_fleet_rollups_of_what_is_rolled_up(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    await asyncio.to_thread(command.upgrade, alembic_config(url), "0013_monitoring")
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO metric_rollups (width, node_id, bucket, cpu_usage_sum, "
                    "cpu_usage_n) VALUES (60, 'n1', 0, 10, 1), (60, 'n2', 0, 30, 2), "
                    "(300, 'n1', 0, 10, 1)"
                )
            )
        await upgrade_async(url)
        async with engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT width, bucket, cpu_usage_sum, cpu_usage_n FROM metric_rollups "
                    "WHERE node_id = '' ORDER BY width"
                )
            )
            assert [tuple(row) for row in rows] == [(60, 0, 40.0, 3), (300, 0, 10.0, 1)]
    finally:
        await engine.dispose()
