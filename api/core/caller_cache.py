"""Login tokens this API replica checked against the store moments ago, and their callers.

Checking a bearer token costs a statement (api.core.authn: the account and the token's
revocation), on every request: a device page's auth was a third of its store round trips.
Here a token that passed that check is taken at its word for `ttl_seconds`
(EDGEWRIGHT_AUTH_CACHE_SECONDS, 2 s by default; 0 turns it off). Its expiry is still
checked on every request (its signature once per process: api.core.auth), so only the
store's verdict is reused.

The price is staleness, bounded by the TTL: a logout, a deleted or disabled account or a
changed role is refused by every replica within `ttl_seconds`. Logging out or deleting a
user through this replica clears the cache here at once (`clear`). A check that started
before a `clear` never stores its answer, so a verdict read just before the change is not
kept for another full TTL.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from api.core.principal import Principal

DEFAULT_TTL_SECONDS = 2.0
# Far above the tokens a replica sees in a few seconds; reaching it just forgets them all.
MAX_ENTRIES = 10_000

# (users.uid, the token's jti, the username it names): what the store check was about.
CallerKey = tuple[str, str, str]


@dataclass(frozen=True)
class _Entry:
    principal: Principal
    checked_at: float


class CallerCache:
    def __init__(
        self,
        *,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,  # injectable, so tests need no sleep
    ) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: dict[CallerKey, _Entry] = {}
        self._generation = 0

    @property
    def generation(self) -> int:
        """Read before checking the store, handed back to `put`."""
        return self._generation

    def get(self, key: CallerKey) -> Principal | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self._clock() - entry.checked_at >= self._ttl:
            del self._entries[key]
            return None
        return entry.principal

    def put(self, key: CallerKey, principal: Principal, *, generation: int) -> None:
        """Remember a caller the store just vouched for, unless the cache was cleared since
        the check began (its answer may predate the change that cleared it)."""
        if self._ttl <= 0 or generation != self._generation:
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[key] = _Entry(principal, self._clock())

    def clear(self) -> None:
        """Forget every caller: after a logout or a user's deletion on this replica."""
        self._entries.clear()
        self._generation += 1
