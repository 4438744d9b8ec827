"""The one write path of metric samples: heartbeats (the bridge) and the Edge API's POST.

Writes are batched by the callers (the bridge writes a flush's heartbeats in one
statement); a sample with the same node and second as one stored replaces it, so a
retried POST is harmless. A sample older than the rollups' horizon marks the rollups
for recomputation (store.monitoring.compaction), and queries read it at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Table, case, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert

from store.models import METRICS, Device, MetricCompaction, MetricSample
from store.monitoring.values import MetricValues

COMPACTION_ROW = "rollups"


@dataclass(frozen=True, kw_only=True)
class Sample:
    node_id: str
    ts: int  # epoch seconds
    values: MetricValues


def _rows(samples: Iterable[Sample]) -> list[dict[str, Any]]:
    # The newest of two samples in the same node and second wins, within a batch too.
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    for sample in samples:
        row: dict[str, Any] = dict.fromkeys(METRICS)
        row.update(sample.values.values)
        row.update(node_id=sample.node_id, ts=sample.ts, containers=sample.values.containers)
        rows[(sample.node_id, sample.ts)] = row
    return list(rows.values())


async def record_samples(session: AsyncSession, *, samples: Sequence[Sample]) -> int:
    """Store `samples` (upsert by node and second); returns how many rows were written."""
    rows = _rows(samples)
    if not rows:
        return 0
    # executemany: SQLAlchemy sends it as multi-row INSERTs ("insertmanyvalues").
    await session.execute(_insert(session.get_bind().dialect.name), rows)
    await _mark_late(session, oldest=min(row["ts"] for row in rows))
    return len(rows)


@lru_cache(maxsize=4)
def _insert(dialect: str) -> Insert:
    table = cast(Table, MetricSample.__table__)
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table)
    return stmt.on_conflict_do_update(
        index_elements=["node_id", "ts"],
        set_={name: stmt.excluded[name] for name in (*METRICS, "containers")},
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
