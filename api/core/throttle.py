"""Applying the rate limit to requests, and its headers to their responses.

The limit is counted where the caller is known: in `current_user` (api.core.deps) once the
credentials are checked, and on the public login per client IP. Every response to a
counted request, whatever the route answers (a body, a 404, a 500 handled as an error),
carries `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset`: the
dependency leaves the figures in a slot this middleware put in the request scope, and the
middleware writes them into the response headers on the way out. Requests that are not
counted (health, docs, failed authentication) get no such headers.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.core.rate_limit import RateLimitStatus
from api.core.state import app_state
from store.settings import Settings

_SLOT = "edgewright.rate_limit"


@dataclass
class _Slot:
    status: RateLimitStatus | None = None


class RateLimitHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Inner layers may copy the scope dict, but a copy still holds this same slot.
        slot = _Slot()
        scope[_SLOT] = slot

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start" and slot.status is not None:
                headers = MutableHeaders(scope=message)
                for name, value in slot.status.headers().items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def enforce_rate_limit(
    request: Request,
    *,
    session: AsyncSession,
    settings: Settings,
    scope: str,
    key: str,
    cap: int | None = None,
) -> RateLimitStatus:
    """Count this request for `key` (within `scope`, e.g. "caller" or "login") against
    the configured limit, or `cap` when lower; raises the 429 ApiError when over it."""
    state = app_state(request.app)
    config = await state.config_cache.get(session, settings=settings)
    limit = config.rate_limit_per_minute if cap is None else min(cap, config.rate_limit_per_minute)
    slot = request.scope.get(_SLOT)
    status = await state.rate_limiter.hit(scope=scope, key=key, limit=limit)
    if isinstance(slot, _Slot):
        slot.status = status
    return status


def client_ip(request: HTTPConnection) -> str:
    # Behind a proxy this is the proxy's address unless uvicorn runs with
    # --proxy-headers and --forwarded-allow-ips (README).
    return request.client.host if request.client else "unknown"
