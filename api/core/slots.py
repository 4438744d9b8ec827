"""A bound on how many requests do one kind of expensive work at once.

A request that finds every slot taken waits up to `wait_seconds` for one, then gets a
503 with `Retry-After` in its contract's envelope: the server is busy, not the caller at
fault (which would be a 429). Logins use it, so a burst of password guesses cannot tie up
every CPU with Argon2 (and its memory) while other requests wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from api.core.errors import ApiError

RETRY_AFTER_SECONDS = 1


class Slots:
    def __init__(self, *, size: int, wait_seconds: float) -> None:
        self._semaphore = asyncio.Semaphore(size)
        self._wait = wait_seconds
        self._waiting = 0

    @property
    def waiting(self) -> int:
        """Requests waiting for a slot now."""
        return self._waiting

    @asynccontextmanager
    async def hold(self, work: str) -> AsyncIterator[None]:
        """A slot for the duration of the block, or the 503 ApiError."""
        if not await self._acquire():
            raise ApiError(
                503,
                f"Too many {work} in progress; retry in {RETRY_AFTER_SECONDS} s",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        try:
            yield
        finally:
            self._semaphore.release()

    async def _acquire(self) -> bool:
        if not self._semaphore.locked():
            await self._semaphore.acquire()  # free: returns at once
            return True
        if self._wait <= 0:
            return False
        self._waiting += 1
        try:
            async with asyncio.timeout(self._wait):
                await self._semaphore.acquire()
            return True
        except TimeoutError:
            return False
        finally:
            self._waiting -= 1
