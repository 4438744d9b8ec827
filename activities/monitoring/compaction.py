"""The compaction activity: one transaction of store.monitoring.compaction."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from store.monitoring import compaction
from store.monitoring.detections import day_of, prune_detections
from workflows.contracts.monitoring import (
    RESOLUTIONS,
    CompactionInput,
    CompactionResult,
    MonitoringActivity,
)

_NAMES = {width: name for name, width in RESOLUTIONS.items()}


class MonitoringActivities:
    def __init__(self, *, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name=MonitoringActivity.COMPACT_METRICS)
    async def compact_metrics(self, inp: CompactionInput) -> CompactionResult:
        now = int(time.time())
        async with self._sessions() as session, session.begin():
            done = await compaction.compact(
                session, now=now, retention=inp.retention, settle_seconds=inp.settle_seconds
            )
            # Daily detection counts live as long as the hourly rollups.
            oldest = datetime.fromtimestamp(now - inp.retention.rollup_1h_seconds, UTC)
            await prune_detections(session, before_day=day_of(oldest))
        activity.logger.info(
            "metrics compacted from %d to %d: %s written, %d samples pruned",
            done.compacted_from,
            done.compacted_until,
            done.rollups_written,
            done.samples_pruned,
        )
        return CompactionResult(
            compacted_from=done.compacted_from,
            compacted_until=done.compacted_until,
            rollups_written={_NAMES[w]: n for w, n in done.rollups_written.items()},
            samples_pruned=done.samples_pruned,
            rollups_pruned={_NAMES[w]: n for w, n in done.rollups_pruned.items()},
        )
