"""The runtime configuration, cached for a few seconds per API process.

Every request consults it (the rate limit comes from it), and reading the store for that
each time would double the queries of a cheap GET. A few seconds of staleness is the
price: a `PUT /api/kubeedge/config` takes effect on this process at once (`invalidate`)
and on every other replica within `ttl_seconds`, with no restart.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from store.runtime_config import RuntimeConfig, load_runtime_config
from store.settings import Settings

DEFAULT_TTL_SECONDS = 5.0


class RuntimeConfigCache:
    def __init__(
        self,
        *,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,  # injectable, so tests need no sleep
    ) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._value: RuntimeConfig | None = None
        self._loaded_at = 0.0

    async def get(self, session: AsyncSession, *, settings: Settings) -> RuntimeConfig:
        now = self._clock()
        if self._value is None or now - self._loaded_at >= self._ttl:
            # Concurrent requests at expiry may each reload once; harmless, and cheaper
            # than making every request wait on a lock.
            self._value = await load_runtime_config(session, settings=settings)
            self._loaded_at = now
        return self._value

    def invalidate(self) -> None:
        """Forget the cached value; call after saving a change in this process."""
        self._value = None
