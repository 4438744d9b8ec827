"""The maintenance window as this API replica last read it, for a bounded time.

Only writes consult it (reads never do), so a replica reads the row at most once per
`ttl_seconds` however many writes arrive. The price is staleness: a window started or
stopped through another replica is seen here within `ttl_seconds`
(EDGEWRIGHT_MAINTENANCE_GATE_CACHE_SECONDS, 2 s by default); through this one, at once
(`invalidate`). The deadline needs no reload: the gate compares ends_at with the clock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.maintenance import load_window
from workflows.contracts.maintenance import MaintenanceStatus

DEFAULT_TTL_SECONDS = 2.0


class MaintenanceCache:
    def __init__(
        self,
        *,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,  # injectable, so tests need no sleep
    ) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._value: MaintenanceStatus | None = None
        self._loaded_at = 0.0
        self._loading = asyncio.Lock()

    async def get(self, sessions: async_sessionmaker[AsyncSession]) -> MaintenanceStatus:
        cached = self._fresh()
        if cached is not None:
            return cached
        # One read at a time: the writes that arrive while it runs take its answer instead
        # of each reading the row again (under 50 commands at once they did, a tenth of the
        # API's CPU in a profile of bench.command_latency).
        async with self._loading:
            cached = self._fresh()
            if cached is not None:
                return cached
            now = self._clock()
            async with sessions() as session:
                value = await load_window(session)
            self._value, self._loaded_at = value, now
            return value

    def _fresh(self) -> MaintenanceStatus | None:
        if self._value is None or self._clock() - self._loaded_at >= self._ttl:
            return None
        return self._value

    def invalidate(self) -> None:
        """Forget the cached window; call after starting or stopping one here."""
        self._value = None
