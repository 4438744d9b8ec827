"""Metrics at the store: ingest, compaction, a node's series and the fleet's aggregate, each
beside a bare baseline in the same run, on SQLite (default) or PostgreSQL (--database-url).

`python -m bench.metrics [--nodes 10000] [--seconds 20] [--query-nodes 1000] [--queries 200]`

1. Ingest: `--nodes` nodes heartbeating every 15 s, at twice that rate, written the way
   the bridge writes them (one `record_samples` per 1 s flush, samples parsed from the
   heartbeats' text). Store lag is how long a flush's write takes: a flush that takes
   longer than the flush interval falls behind. Baseline: a plain executemany INSERT of
   the same rows into a table of the same columns.
2. Backfill 24 h for `--query-nodes` nodes (one synthetic sample a minute, so the
   backfill stays small; rollup queries cost the same however many samples a bucket
   holds), compacted by the real compaction.
3. Queries: a node's 24h@5m series and the fleet's 1h@1m aggregate through
   store.monitoring.series, against a plain indexed SELECT of the same rollup rows.
4. Bytes written per node-day (5760 heartbeats and a day's rollups) and kept per node at
   the default retention, from the measured size of a raw sample and of a rollup row
   with their indexes (SQLite's dbstat, or PostgreSQL's relation sizes).

The store layer only: the MQTT and HTTP hops are measured by bench.bridge_ingest and
bench.api_reads. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bench._postgres import throwaway_postgres
from bench.join_latency import percentile
from store.db import create_engine, session_factory
from store.devices.presence import Heartbeat
from store.migrate import upgrade_async
from store.models import utcnow
from store.monitoring import compaction, series
from store.monitoring.samples import Sample, record_samples
from store.monitoring.values import from_heartbeat
from workflows.contracts.monitoring import DAY, HOUR, MetricsRetention

HEARTBEAT_SECONDS = 15
FLUSH_SECONDS = 1.0
BARE_TABLE = "bench_bare_samples"
NODES_TABLE = "bench_backfill_nodes"
# Rows a node keeps at the default retention: raw 6 h at 15 s, 1m for a day, 5m for a
# week, 1h for 90 days.
ROWS_PER_NODE = {"raw": 6 * 240, "1m": 1440, "5m": 7 * 288, "1h": 90 * 24}


def heartbeat(rng: random.Random) -> dict[str, Any]:
    return {
        "cpu": f"{rng.uniform(5, 60):.0f}%",
        "memory": f"{rng.uniform(0.5, 3.5):.1f}GB",
        "temperature": round(rng.uniform(35, 65), 1),
        "apps": [],
    }


async def bare_table(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text(
                f"CREATE TABLE {BARE_TABLE} (node_id VARCHAR(36), ts BIGINT, cpu_usage FLOAT, "
                "memory_usage FLOAT, temperature FLOAT, PRIMARY KEY (node_id, ts))"
            )
        )


async def ingest(
    sessions: async_sessionmaker[AsyncSession], *, nodes: list[str], seconds: int
) -> dict[str, float]:
    """Flushes of one second's heartbeats at twice the fleet's rate; write time of each."""
    rng = random.Random(7)
    per_flush = max(1, round(2 * len(nodes) / HEARTBEAT_SECONDS * FLUSH_SECONDS))
    start_ts = int(time.time()) - seconds
    ours: list[float] = []
    bare: list[float] = []
    cursor = 0
    for second in range(seconds):
        batch = [nodes[(cursor + i) % len(nodes)] for i in range(per_flush)]
        cursor += per_flush
        ts = start_ts + second
        beats = [Heartbeat(device_id=n, at=utcnow(), usage=heartbeat(rng)) for n in batch]
        began = time.perf_counter()
        samples = [
            Sample(node_id=beat.device_id, ts=ts, values=from_heartbeat(beat.usage))
            for beat in beats
        ]
        async with sessions() as session, session.begin():
            await record_samples(session, samples=samples)
        ours.append(time.perf_counter() - began)
        rows = [
            {
                "n": sample.node_id,
                "t": ts,
                "c": sample.values.values.get("cpu_usage"),
                "m": sample.values.values.get("memory_usage"),
                "p": sample.values.values.get("temperature"),
            }
            for sample in samples
        ]
        began = time.perf_counter()
        async with sessions() as session, session.begin():
            await session.execute(
                text(f"INSERT INTO {BARE_TABLE} VALUES (:n, :t, :c, :m, :p)"),  # noqa: S608
                rows,
            )
        bare.append(time.perf_counter() - began)
    rate = 2 * len(nodes) / HEARTBEAT_SECONDS
    return {
        "ingest_target_samples_per_s": round(rate),
        "ingest_samples_per_s": round(per_flush * len(ours) / sum(ours)),
        "ingest_store_lag_p50_s": round(percentile(ours, 0.5), 4),
        "ingest_store_lag_p99_s": round(percentile(ours, 0.99), 4),
        "bare_insert_samples_per_s": round(per_flush * len(bare) / sum(bare)),
        "ingest_ratio_to_bare": round(sum(bare) / sum(ours), 3),
    }


async def backfill(
    sessions: async_sessionmaker[AsyncSession], *, nodes: list[str], now: int
) -> dict[str, float]:
    """24 h of one sample a minute per node, generated by the database in one statement,
    then compacted by the real compaction an hour at a time, as the schedule would (which
    also lays the rollups out in time order on disk, as in a running system)."""
    began = time.perf_counter()
    async with sessions() as session, session.begin():
        dialect = session.get_bind().dialect.name
        # random() is a float in [0, 1) on PostgreSQL, a 64-bit integer on SQLite.
        unit = "random()" if dialect == "postgresql" else "(abs(random()) % 1000000) / 1e6"
        await session.execute(text(f"CREATE TEMPORARY TABLE {NODES_TABLE} (node_id VARCHAR(36))"))
        await session.execute(
            text(f"INSERT INTO {NODES_TABLE} VALUES (:n)"),  # noqa: S608
            [{"n": node} for node in nodes],
        )
        await session.execute(
            text(
                "INSERT INTO metric_samples (node_id, ts, cpu_usage, memory_usage, temperature) "  # noqa: S608
                "WITH RECURSIVE m(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM m WHERE i < 1439) "
                f"SELECT n.node_id, :first + 60 * m.i, 5 + 55 * {unit}, 0.5 + 3 * {unit}, "
                f"35 + 30 * {unit} FROM m CROSS JOIN {NODES_TABLE} n"
            ),
            {"first": now - DAY},
        )
    inserted = time.perf_counter() - began
    retention = MetricsRetention(raw_seconds=DAY + HOUR, rollup_1m_seconds=DAY + 2 * HOUR)
    began = time.perf_counter()
    written = 0
    for hour in range(23, -1, -1):
        async with sessions() as session, session.begin():
            done = await compaction.compact(
                session, now=now - hour * HOUR, retention=retention, settle_seconds=0
            )
        written += done.rollups_written[60]
    if dialect == "postgresql":
        # What autovacuum does on its own after a bulk load in a running server; without
        # statistics the planner may take the (width, bucket) index for one node's series.
        async with sessions() as session, session.begin():
            await session.execute(text("ANALYZE metric_samples, metric_rollups"))
    return {
        "backfill_samples": len(nodes) * 1440,
        "backfill_insert_s": round(inserted, 2),
        "backfill_compaction_s": round(time.perf_counter() - began, 2),
        "backfill_1m_rollups_written": written,
    }


async def timed(runs: int, call: Any) -> list[float]:
    latencies = []
    for index in range(runs):
        began = time.perf_counter()
        await call(index)
        latencies.append(time.perf_counter() - began)
    return latencies


async def queries(
    sessions: async_sessionmaker[AsyncSession], *, nodes: list[str], now: int, runs: int
) -> dict[str, float]:
    day_start = now - DAY - (now - DAY) % 300 + 300
    hour_start = now - HOUR - (now - HOUR) % 60 + 60

    async def node_series(index: int) -> None:
        async with sessions() as session:
            found = await series.node_series(
                session, node_id=nodes[index % len(nodes)], width=300, start=day_start
            )
        assert found["cpu_usage"]

    async def bare_node(index: int) -> None:
        async with sessions() as session:
            rows = await session.execute(
                text(
                    "SELECT bucket, cpu_usage_sum, cpu_usage_n, memory_usage_sum, "
                    "memory_usage_n FROM metric_rollups WHERE width = 300 AND node_id = :n "
                    "AND bucket >= :s ORDER BY bucket"
                ),
                {"n": nodes[index % len(nodes)], "s": day_start},
            )
            assert rows.all()

    async def fleet(_: int) -> None:
        async with sessions() as session:
            per_bucket, _per_node = await series.fleet(
                session, width=60, start=hour_start, retention=MetricsRetention()
            )
        assert per_bucket["cpu_usage"]

    async def bare_fleet(_: int) -> None:
        async with sessions() as session:
            rows = await session.execute(
                text(
                    "SELECT bucket, SUM(cpu_usage_sum), SUM(cpu_usage_n) FROM metric_rollups "
                    "WHERE width = 60 AND bucket >= :s GROUP BY bucket"
                ),
                {"s": hour_start},
            )
            assert rows.all()

    ours_node = await timed(runs, node_series)
    bare_node_ms = await timed(runs, bare_node)
    fleet_runs = max(10, runs // 10)
    ours_fleet = await timed(fleet_runs, fleet)
    bare_fleet_ms = await timed(fleet_runs, bare_fleet)
    return {
        "node_24h_5m_p50_ms": round(1000 * percentile(ours_node, 0.5), 2),
        "node_24h_5m_p99_ms": round(1000 * percentile(ours_node, 0.99), 2),
        "bare_node_select_p99_ms": round(1000 * percentile(bare_node_ms, 0.99), 2),
        "node_ratio_to_bare_p99": round(
            percentile(ours_node, 0.99) / percentile(bare_node_ms, 0.99), 2
        ),
        "fleet_1h_1m_p50_ms": round(1000 * percentile(ours_fleet, 0.5), 2),
        "fleet_1h_1m_p99_ms": round(1000 * percentile(ours_fleet, 0.99), 2),
        "bare_fleet_select_p99_ms": round(1000 * percentile(bare_fleet_ms, 0.99), 2),
        "fleet_ratio_to_bare_p99": round(
            percentile(ours_fleet, 0.99) / percentile(bare_fleet_ms, 0.99), 2
        ),
    }


async def table_bytes(engine: AsyncEngine) -> dict[str, int]:
    """Bytes of each monitoring table with its indexes."""
    async with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            sizes = {}
            for table in ("metric_samples", "metric_rollups", BARE_TABLE):
                size = await conn.scalar(text(f"SELECT pg_total_relation_size('{table}')"))
                sizes[table] = int(size or 0)
            return sizes
        rows = await conn.execute(text("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"))
        found = {name: int(size) for name, size in rows}
    return {
        "metric_samples": sum(v for k, v in found.items() if "metric_samples" in k),
        "metric_rollups": sum(v for k, v in found.items() if "metric_rollups" in k),
        BARE_TABLE: sum(v for k, v in found.items() if BARE_TABLE in k),
    }


async def count(engine: AsyncEngine, table: str) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(text(f"SELECT COUNT(*) FROM {table}")) or 0)  # noqa: S608


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with contextlib.ExitStack() as stack:
        url = args.database_url
        if url is None and args.store == "postgresql":
            url = stack.enter_context(throwaway_postgres())
        elif url is None:
            scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-metrics-"))
            url = f"sqlite+aiosqlite:///{Path(scratch) / 'metrics.db'}"
        return await measure(url, args)


async def measure(url: str, args: argparse.Namespace) -> dict[str, Any]:
    await upgrade_async(url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    try:
        await bare_table(engine)
        fleet_nodes = [str(uuid.UUID(int=i)) for i in range(args.nodes)]
        figures: dict[str, Any] = {
            "backend": engine.dialect.name,
            "nodes": args.nodes,
            "query_nodes": args.query_nodes,
        }
        figures |= await ingest(sessions, nodes=fleet_nodes, seconds=args.seconds)
        async with sessions() as session, session.begin():
            await session.execute(text("DELETE FROM metric_samples"))
        now = int(time.time())
        query_nodes = fleet_nodes[: args.query_nodes]
        figures |= await backfill(sessions, nodes=query_nodes, now=now)
        figures |= await queries(sessions, nodes=query_nodes, now=now, runs=args.queries)
        sizes = await table_bytes(engine)
        per_sample = sizes["metric_samples"] / max(1, await count(engine, "metric_samples"))
        per_rollup = sizes["metric_rollups"] / max(1, await count(engine, "metric_rollups"))
        figures["bytes_per_raw_sample"] = round(per_sample, 1)
        figures["bytes_per_rollup_row"] = round(per_rollup, 1)
        per_bare = sizes[BARE_TABLE] / max(1, await count(engine, BARE_TABLE))
        figures["bare_bytes_per_sample"] = round(per_bare, 1)
        # Written per node and day: 5760 heartbeats and a day's 1m, 5m and 1h rollups.
        figures["bytes_written_per_node_day"] = round(
            per_sample * 4 * 1440 + per_rollup * (1440 + 288 + 24)
        )
        figures["bytes_kept_per_node"] = round(
            per_sample * ROWS_PER_NODE["raw"]
            + per_rollup * (ROWS_PER_NODE["1m"] + ROWS_PER_NODE["5m"] + ROWS_PER_NODE["1h"])
        )
        return figures
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.metrics", description=__doc__)
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=20, help="ingest flushes to measure")
    parser.add_argument("--query-nodes", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--store",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="a SQLite file, or a throwaway PostgreSQL server started for the run",
    )
    parser.add_argument(
        "--database-url", default=None, help="postgresql+asyncpg://...; overrides --store"
    )
    print(json.dumps(asyncio.run(run(parser.parse_args()))))


if __name__ == "__main__":
    main()
