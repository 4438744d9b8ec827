"""The one write path of metric samples: heartbeats (the bridge) and the Edge API's POST.

Writes are batched by the callers (the bridge writes a flush's heartbeats at once); a
sample with the same node and second as one stored replaces it, so a retried POST is
harmless. A sample older than the rollups' horizon marks the rollups for recomputation
(store.monitoring.compaction), and queries read it at once.

A batch is one upsert below the ORM: one `unnest` statement on PostgreSQL, one prepared
statement run by the driver over plain tuples on SQLite. Heartbeats are keyed by device
and take their node from `devices` inside that statement. Built through SQLAlchemy's
executemany, with a lookup of the nodes first, a 10,000-heartbeat flush spent most of
its time building per-row parameters (bench.bridge_ingest).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from sqlalchemy import case, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import METRICS, Device, MetricCompaction, MetricSample
from store.monitoring.values import MetricValues

COMPACTION_ROW = "rollups"
# The columns of one row as the statements take them; the key (node or device) last.
_COLUMNS = ("ts", *METRICS, "containers")
_PG_TYPES = ("BIGINT", *("FLOAT8" for _ in METRICS), "TEXT", "VARCHAR")
Key = Literal["node", "device"]


@dataclass(frozen=True, kw_only=True)
class Sample:
    node_id: str
    ts: int  # epoch seconds
    values: MetricValues


@dataclass(frozen=True, kw_only=True)
class DeviceSample:
    """A sample of the node a device runs on, whichever that is when it is stored."""

    device_id: str
    ts: int
    values: MetricValues


def _rows(samples: Iterable[tuple[str, int, MetricValues]]) -> list[tuple[Any, ...]]:
    # The newest of two samples in the same key and second wins, within a batch too
    # (PostgreSQL refuses to upsert one row twice in a statement).
    rows: dict[tuple[str, int], tuple[Any, ...]] = {}
    for key, ts, values in samples:
        readings = values.values
        containers = json.dumps(values.containers) if values.containers is not None else None
        rows[(key, ts)] = (ts, *(readings.get(m) for m in METRICS), containers, key)
    return list(rows.values())


async def record_samples(session: AsyncSession, *, samples: Sequence[Sample]) -> int:
    """Store `samples` (upsert by node and second); returns how many rows were written."""
    rows = _rows((s.node_id, s.ts, s.values) for s in samples)
    return await _write(session, rows=rows, key="node")


async def record_device_samples(session: AsyncSession, *, samples: Sequence[DeviceSample]) -> int:
    """Store samples of devices' nodes; devices the inventory does not know are skipped."""
    rows = _rows((s.device_id, s.ts, s.values) for s in samples)
    return await _write(session, rows=rows, key="device")


async def _write(session: AsyncSession, *, rows: list[tuple[Any, ...]], key: Key) -> int:
    if not rows:
        return 0
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        columns = {name: [row[i] for row in rows] for i, name in enumerate((*_COLUMNS, "key"))}
        result = await connection.execute(text(_postgresql(key)), columns)
    else:
        result = await connection.exec_driver_sql(_sqlite(key), rows)
    await _mark_late(session, oldest=min(row[0] for row in rows))
    return max(int(result.rowcount or 0), 0)


def _conflict() -> str:
    updates = ", ".join(f"{name} = excluded.{name}" for name in _COLUMNS[1:])
    return f"ON CONFLICT (node_id, ts) DO UPDATE SET {updates}"


@lru_cache(maxsize=2)
def _sqlite(key: Key) -> str:
    columns = ", ".join((*_COLUMNS, "node_id"))
    marks = ", ".join("?" for _ in _COLUMNS)
    table = MetricSample.__tablename__
    if key == "node":
        return f"INSERT INTO {table} ({columns}) VALUES ({marks}, ?) {_conflict()}"  # noqa: S608
    # WHERE before ON CONFLICT: SQLite's upsert after a SELECT needs it to parse.
    devices = Device.__tablename__
    return (
        f"INSERT INTO {table} ({columns}) SELECT {marks}, node_id FROM {devices} "  # noqa: S608
        f"WHERE device_id = ? {_conflict()}"
    )


@lru_cache(maxsize=2)
def _postgresql(key: Key) -> str:
    names = (*_COLUMNS, "key")
    arrays = ", ".join(f"CAST(:{n} AS {t}[])" for n, t in zip(names, _PG_TYPES, strict=True))
    values = ", ".join(f"u.{n}" for n in _COLUMNS[:-1])
    table = MetricSample.__tablename__
    source = f"unnest({arrays}) AS u({', '.join(names)})"
    if key == "device":
        source += f" JOIN {Device.__tablename__} d ON d.device_id = u.key"
    node = "u.key" if key == "node" else "d.node_id"
    columns = ", ".join((*_COLUMNS, "node_id"))
    return (
        f"INSERT INTO {table} ({columns}) "  # noqa: S608
        f"SELECT {values}, CAST(u.containers AS JSON), {node} FROM {source} {_conflict()}"
    )


async def _mark_late(session: AsyncSession, *, oldest: int) -> None:
    """Behind the rollups' horizon: ask the next compaction to recompute from `oldest`.

    A conditional UPDATE of one row, which matches (and locks) only for late samples.
    """
    row = MetricCompaction
    await session.execute(
        update(row)
        .where(row.name == COMPACTION_ROW, row.compacted_until > oldest)
        .values(
            recompute_from=case(
                (row.recompute_from.is_(None), oldest),
                else_=func.min(row.recompute_from, oldest)
                if session.get_bind().dialect.name == "sqlite"
                else func.least(row.recompute_from, oldest),
            ),
            late_seq=row.late_seq + 1,
        )
    )


async def node_ids(session: AsyncSession, *, device_ids: Sequence[str]) -> dict[str, str]:
    """device_id -> node_id for the devices the inventory knows (others are left out)."""
    found: dict[str, str] = {}
    for start in range(0, len(device_ids), 500):
        chunk = device_ids[start : start + 500]
        rows = await session.execute(
            select(Device.device_id, Device.node_id).where(Device.device_id.in_(chunk))
        )
        found.update((device_id, node_id) for device_id, node_id in rows)
    return found
