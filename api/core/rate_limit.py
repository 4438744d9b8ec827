"""Requests per minute per caller, counted with the `limits` library.

A caller is a user, an API key, or (for the public login) a client IP. The limit is the
runtime configuration's `rate_limit_per_minute`, read through the config cache, so an
operator's change applies within seconds. Counting uses a moving window: no burst of
twice the limit across a window boundary, as a fixed window would allow.

The counters live in `EDGEWRIGHT_RATE_LIMIT_STORAGE` (default `memory://`: this process
only, counted by api.core.moving_window with the library's semantics and without its
thread round trip per hit). With several API replicas each would count on its own,
letting a caller make N times the limit; point all replicas at one shared storage such as
`redis://host:6379`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItemPerMinute
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from api.core.errors import ApiError
from api.core.moving_window import WINDOW_SECONDS as _WINDOW_SECONDS
from api.core.moving_window import MovingWindows

_IN_PROCESS = ("memory://", "async+memory://")


class _PerMinute(RateLimitItemPerMinute):
    def key_for(self, *identifiers: bytes | str | int | float) -> str:
        # The library puts the amount in the key, so changing the limit would start every
        # caller on a fresh, empty window; without it, a lowered limit bites at once.
        return "/".join(["edgewright", *(str(part) for part in identifiers), "minute"])


@dataclass(frozen=True, kw_only=True)
class RateLimitStatus:
    limit: int
    remaining: int
    reset_at: int  # epoch seconds when the next request would be admitted again

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_at),
        }


class RateLimiter:
    def __init__(self, *, storage_uri: str = "memory://") -> None:
        self._local: MovingWindows | None = None
        self._storage: Storage | None = None
        if storage_uri in _IN_PROCESS:
            self._local = MovingWindows()
        else:
            self._storage = _async_storage(storage_uri)
            self._strategy = MovingWindowRateLimiter(self._storage)

    async def hit(self, *, scope: str, key: str, limit: int) -> RateLimitStatus:
        """Count one request of `key`; raises the 429 ApiError when over `limit`."""
        if self._local is not None:
            counted = self._local.hit(f"{scope}/{key}", limit=limit)
            allowed, remaining, reset_time = counted.allowed, counted.remaining, counted.reset_time
        else:
            item = _PerMinute(limit)
            allowed = await self._strategy.hit(item, scope, key)
            stats = await self._strategy.get_window_stats(item, scope, key)
            remaining, reset_time = stats.remaining, stats.reset_time
        now = time.time()
        reset_at = max(math.ceil(reset_time), math.ceil(now))
        status = RateLimitStatus(limit=limit, remaining=max(remaining, 0), reset_at=reset_at)
        if not allowed:
            retry_after = max(1, min(_WINDOW_SECONDS, math.ceil(reset_time - now)))
            raise ApiError(
                429,
                f"Rate limit of {limit} requests per minute exceeded; retry in {retry_after} s",
                details={"limit": limit, "window_seconds": _WINDOW_SECONDS},
                headers={"Retry-After": str(retry_after), **status.headers()},
            )
        return status

    async def reset(self) -> None:
        if self._local is not None:
            self._local.clear()
        if self._storage is not None:
            await self._storage.reset()


def _async_storage(uri: str) -> Storage:
    # The setting takes the library's plain URIs (memory://, redis://...); the async
    # variants of the same storages are named async+<scheme>.
    full = uri if uri.startswith("async+") else f"async+{uri}"
    storage = storage_from_string(full)
    if not isinstance(storage, Storage):  # pragma: no cover - the prefix guarantees it
        raise TypeError(f"{uri!r} is not an async rate-limit storage")
    return storage
