"""When to retry: 429 and 503 (the server asks to come back), honouring `Retry-After`."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass

RETRY_STATUSES = frozenset({429, 503})


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """`max_retries` retries after the first attempt; exponential backoff with jitter when
    the server gives no `Retry-After`. A `Retry-After` longer than `max_retry_after`
    is not waited for: the error is raised at once, so a script never hangs a minute
    on a rate limit unless it asked to."""

    max_retries: int = 3
    backoff: float = 0.5
    max_backoff: float = 30.0
    max_retry_after: float = 60.0

    def delay(self, attempt: int, retry_after: float | None) -> float | None:
        """Seconds to wait before retry number `attempt + 1`, or None to give up."""
        if attempt >= self.max_retries:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.max_retry_after else None
        ceiling = min(self.max_backoff, self.backoff * 2**attempt)
        # Full jitter: clients refused together do not come back together.
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - not a secret


NO_RETRY = RetryPolicy(max_retries=0)


async def asleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


def sleep(seconds: float) -> None:
    time.sleep(seconds)


def monotonic() -> float:
    return time.monotonic()
