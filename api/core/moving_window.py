"""The rate limit's moving window kept in this process (`EDGEWRIGHT_RATE_LIMIT_STORAGE`
memory://, the default): one deque of hit times per caller.

The `limits` library's own memory storage schedules its expiry sweep as a task that hands
every key to a worker thread, and a hit starts the next sweep: under load, a task and a
thread round trip per request (py-spy on a device page: more of the API's time than the
counting itself). The semantics are the library's moving window: a hit is refused while
`limit` hits fall within the last 60 s, whatever the limit was when they were counted.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

WINDOW_SECONDS = 60
# Callers idle for a whole window are forgotten every this many hits: memory stays
# bounded by the callers of the last minute.
_SWEEP_EVERY = 1024


@dataclass(frozen=True, kw_only=True)
class WindowHit:
    allowed: bool
    remaining: int
    reset_time: float  # epoch seconds when the oldest hit in the window leaves it


class MovingWindows:
    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._until_sweep = _SWEEP_EVERY

    def hit(self, key: str, *, limit: int) -> WindowHit:
        now = self._clock()
        cutoff = now - WINDOW_SECONDS
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] < cutoff:
            hits.popleft()
        allowed = len(hits) < limit
        if allowed:
            hits.append(now)
        self._until_sweep -= 1
        if self._until_sweep <= 0:
            self._sweep(cutoff)
        oldest = hits[0] if hits else now
        return WindowHit(
            allowed=allowed,
            remaining=max(limit - len(hits), 0),
            reset_time=oldest + WINDOW_SECONDS,
        )

    def clear(self) -> None:
        self._hits.clear()

    def _sweep(self, cutoff: float) -> None:
        self._until_sweep = _SWEEP_EVERY
        for key in [k for k, hits in self._hits.items() if not hits or hits[-1] < cutoff]:
            del self._hits[key]
