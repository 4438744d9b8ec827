"""One delivery attempt: POST the body to the checked addresses, keep what came back.

No redirects (a 3xx is an answer like any other, and following one would reach an
unchecked host), no proxies from the environment, at most 1 KiB of the answer read.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp

from adapters.webhooks.pinned import PinnedResolver
from adapters.webhooks.targets import checked_addresses, parse_url

MAX_ANSWER_BYTES = 1024


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no HTTP answer (timeout, refused, reset)
    body: str | None
    error: str | None
    retry_after: float | None = None  # seconds, from a Retry-After given in seconds


def retry_after(value: str | None) -> float | None:
    # Only the delta-seconds form: an HTTP date would need the receiver's clock.
    if value is None or not value.strip().isdigit():
        return None
    return float(value.strip())


async def post(
    url: str, *, body: bytes, headers: dict[str, str], timeout_seconds: float, allow_private: bool
) -> Answer:
    """Raises TargetRefused when the URL (now) resolves to a refused address."""
    results = await checked_addresses(url, allow_private=allow_private)
    host = parse_url(url).hostname or ""
    connector = aiohttp.TCPConnector(
        resolver=PinnedResolver(host, results), use_dns_cache=False, force_close=True
    )
    limit = aiohttp.ClientTimeout(total=timeout_seconds)
    try:
        async with (
            aiohttp.ClientSession(connector=connector, timeout=limit) as session,
            session.post(url, data=body, headers=headers, allow_redirects=False) as answer,
        ):
            kept = await answer.content.read(MAX_ANSWER_BYTES)
            wait = retry_after(answer.headers.get("Retry-After"))
            return Answer(answer.status, kept.decode("utf-8", "replace"), None, wait)
    except TimeoutError:
        return Answer(None, None, f"no answer within {timeout_seconds:g} s")
    except aiohttp.ClientError as err:
        return Answer(None, None, f"connection failed: {type(err).__name__}: {err}"[:300])
