"""Refuse request bodies over a size limit before anything reads them: 413.

The outermost middleware, so it runs before authentication, body parsing and rate
limits: an anonymous client cannot make the API buffer and parse a huge body only to be
told 401. A declared `Content-Length` over the limit is refused before a byte is read;
a body without one (chunked), or longer than it said, is counted while it streams and
refused as soon as it passes the limit.

Limits are per path: batch-join (JSON, YAML, CSV or a file upload) and restore take
more than the default. All three come from Settings.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.core.envelopes import error_response
from api.core.state import app_settings
from store.settings import Settings

# POST paths that take more than the default, and the setting that says how much.
LARGER_BODIES = {
    "/api/kubeedge/batch-join": "max_batch_join_body_bytes",
    "/api/kubeedge/restore": "max_restore_body_bytes",
}


def body_limit(settings: Settings, *, method: str, path: str) -> int:
    """The body limit of a request, by method and path."""
    name = LARGER_BODIES.get(path.rstrip("/")) if method == "POST" else None
    limit: int = getattr(settings, name or "max_body_bytes")
    return limit


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Settings are the lifespan's (Starlette puts the app into every scope).
        settings = app_settings(scope["app"])
        limit = body_limit(settings, method=scope["method"], path=scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(scope, send, limit)
            return
        received = 0
        started = refused = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Answer now and tell the app the client left: whatever it makes of
                    # that (400, 500) is dropped by `guarded_send`, and nothing is parsed.
                    refused = True
                    if not started:
                        await _refuse(scope, send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not refused:
                raise


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed length before we see it
    return None


async def _refuse(scope: Scope, send: Send, limit: int) -> None:
    response = error_response(
        path=scope["path"],
        status_code=413,
        message=f"Request body is larger than the limit of {limit} bytes",
        details={"max_bytes": limit},
        headers={"Connection": "close"},  # the rest of the body is not read
    )
    await response(scope, _nothing, send)


async def _nothing() -> Message:
    return {"type": "http.disconnect"}
