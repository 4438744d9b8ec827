"""Read request bodies as JSON even when the client did not say so.

The CloudCore document's own curl examples send JSON with `-d` and no `Content-Type`,
which curl labels `application/x-www-form-urlencoded`; scripts built on `requests`
with `data=json.dumps(...)` send no type at all. FastAPI ignores such bodies, so those
clients would get a 400 for a correct request. No endpoint of ours takes a form or
plain text, so under /api/ we relabel those bodies as JSON; a body that is not JSON
still gets a clean 400.

This is safe against cross-site request forgery only because we never authenticate by
cookie: a forged cross-origin request cannot carry our bearer token.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
_RELABELLED = {"", "application/x-www-form-urlencoded", "text/plain"}


class LenientJsonMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in _BODY_METHODS
            and scope["path"].startswith("/api/")
        ):
            scope = _as_json(scope)
        await self.app(scope, receive, send)


def _as_json(scope: Scope) -> Scope:
    headers: list[tuple[bytes, bytes]] = list(scope["headers"])
    declared = b""
    for name, value in headers:
        if name.lower() == b"content-type":
            declared = value
    media_type = declared.split(b";", 1)[0].strip().lower().decode("latin-1")
    if media_type not in _RELABELLED:
        return scope
    kept = [(name, value) for name, value in headers if name.lower() != b"content-type"]
    return {**scope, "headers": [*kept, (b"content-type", b"application/json")]}
