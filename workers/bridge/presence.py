"""Device presence from heartbeats and last wills, written to the store in batches.

Each flush also stores the heartbeats as metric samples and adds the detections counted
since the last one (store.monitoring), in the same transaction.

Heartbeats are coalesced per device between flushes: the store sees at most one row
update per device per flush (one executemany), however often devices report, so memory
and write load are bounded by the fleet size, not the message rate. Last wills are
flushed at once. A periodic sweep turns devices offline whose heartbeats stopped; it is a
conditional UPDATE on the store, so it works the same with one bridge replica or many.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.devices import presence
from store.devices.presence import DeviceName, Heartbeat
from store.monitoring.detections import add_detections, day_of
from store.monitoring.heartbeats import record_heartbeats

log = logging.getLogger(__name__)

SWEEP_EVERY_SECONDS = 5.0


@dataclass(frozen=True, kw_only=True)
class Departure:
    device_id: str
    node_name: str
    reason: str


OnOnline = Callable[[Sequence[str]], Awaitable[None]]
OnLeft = Callable[[Sequence[Departure]], None]
# Told after each write: how long it took and how old its oldest heartbeat was by then.
OnFlushed = Callable[[float, float], None]


class PresenceBatcher:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        flush_interval: float,
        offline_after: float,
        on_online: OnOnline,
        on_left: OnLeft,
        on_flushed: OnFlushed | None = None,
    ) -> None:
        self._sessions = sessions
        self._flush_interval = flush_interval
        self._offline_after = timedelta(seconds=offline_after)
        self._on_online = on_online
        self._on_left = on_left
        self._on_flushed = on_flushed
        self._pending: dict[str, Heartbeat] = {}
        self._leaving: dict[str, str] = {}  # device_id -> reason
        self._detections: Counter[tuple[str, str]] = Counter()  # (day, device_id)
        self._wake = asyncio.Event()
        self.rows_written = 0
        self.samples_written = 0
        self.flushes = 0

    @property
    def pending(self) -> int:
        return len(self._pending) + len(self._leaving)

    def lag_seconds(self) -> float:
        """Age of the oldest heartbeat not yet written; 0 when none waits."""
        if not self._pending:
            return 0.0
        oldest = min(beat.at for beat in self._pending.values())
        return max(0.0, (datetime.now(UTC) - oldest).total_seconds())

    def heartbeat(self, device_id: str, *, usage: dict[str, Any], at: datetime) -> None:
        self._pending[device_id] = Heartbeat(device_id=device_id, at=at, usage=usage)

    def detection(self, device_id: str, *, at: datetime) -> None:
        self._detections[(day_of(at), device_id)] += 1

    def left(self, device_id: str, *, reason: str) -> None:
        # A heartbeat queued before the will must not bring the device back online.
        self._pending.pop(device_id, None)
        self._leaving[device_id] = reason
        self._wake.set()

    async def run(self) -> None:
        """Flush every `flush_interval` (sooner when a device left) and sweep now and then."""
        loop = asyncio.get_running_loop()
        next_sweep = loop.time() + SWEEP_EVERY_SECONDS
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._flush_interval):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.flush()
                if loop.time() >= next_sweep:
                    next_sweep = loop.time() + SWEEP_EVERY_SECONDS
                    await self.sweep()
            except Exception:  # the store may be briefly unavailable; keep the batch
                log.exception("presence flush failed; retrying")
                await asyncio.sleep(self._flush_interval)

    async def flush(self) -> None:
        beats, self._pending = self._pending, {}
        leaving, self._leaving = self._leaving, {}
        detections, self._detections = self._detections, Counter()
        if not beats and not leaving and not detections:
            return
        started = time.perf_counter()
        try:
            async with self._sessions() as session, session.begin():
                gone = await presence.mark_offline(session, device_ids=list(leaving))
                back = await presence.offline_among(session, device_ids=list(beats))
                await presence.apply_heartbeats(session, beats=list(beats.values()))
                # The same heartbeats as metric samples, in the same transaction.
                self.samples_written += await record_heartbeats(session, beats=list(beats.values()))
                for day in {day for day, _ in detections}:
                    counts = {d: n for (on, d), n in detections.items() if on == day}
                    await add_detections(session, day=day, counts=counts)
        except Exception:
            # Put the batch back (newer heartbeats win) so nothing is lost on a failed write.
            self._pending = {**beats, **self._pending}
            self._leaving = {**leaving, **self._leaving}
            self._detections.update(detections)
            raise
        self.rows_written += len(beats)
        self.flushes += 1
        if self._on_flushed is not None and beats:
            oldest = min(beat.at for beat in beats.values())
            lag = max(0.0, (datetime.now(UTC) - oldest).total_seconds())
            self._on_flushed(time.perf_counter() - started, lag)
        if gone:
            self._on_left([_departure(row, leaving[row.device_id]) for row in gone])
        if back:
            await self._on_online(sorted(back))

    async def sweep(self) -> None:
        heard_before = datetime.now(UTC) - self._offline_after
        async with self._sessions() as session, session.begin():
            silent = await presence.sweep_silent(session, heard_before=heard_before)
        if silent:
            log.info("%d devices went silent and are now offline", len(silent))
            self._on_left([_departure(row, "heartbeat_timeout") for row in silent])


def _departure(row: DeviceName, reason: str) -> Departure:
    return Departure(device_id=row.device_id, node_name=row.node_name, reason=reason)
