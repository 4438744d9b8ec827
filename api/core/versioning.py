"""API versions by media type: `Accept: application/vnd.kubeedge.v1+json`.

The CloudCore document versions its API by the Accept header. A client that asks for a
version we serve gets JSON labelled with that media type; one that asks only for versions
we do not serve gets a 406 naming the supported ones; everyone else (`application/json`,
`*/*`, no Accept, any other type) is answered as before. Every HTTP answer, errors and
the 406 included, carries `API-Version` and `Vary: Accept` (the label depends on Accept);
a WebSocket's accepted handshake carries `API-Version`.

We negotiate only our own vendor type, not media types in general: clients of both
documents send whatever Accept their HTTP library sends, and were answered JSON before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.core.envelopes import error_response

VERSION_HEADER = "API-Version"
SUPPORTED_VERSIONS = ("v1",)  # oldest first; the last is the current one
CURRENT_VERSION = SUPPORTED_VERSIONS[-1]
JSON = "application/json"


def vendor_media_type(version: str) -> str:
    return f"application/vnd.kubeedge.{version}+json"


SUPPORTED_MEDIA_TYPES = tuple(vendor_media_type(v) for v in SUPPORTED_VERSIONS)

# `application/vnd.kubeedge+json` (no version) means the current one.
_VENDOR = re.compile(r"application/vnd\.kubeedge(?:\.(?P<version>[A-Za-z0-9]{1,16}))?\+json")
_Q = re.compile(r"(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)")


@dataclass(frozen=True, kw_only=True)
class Negotiated:
    """What an Accept header asks of us: a vendor media type, or None for plain JSON."""

    media_type: str | None
    acceptable: bool = True


def negotiate(accept: str | None) -> Negotiated:
    best: tuple[float, int] | None = None  # (q, index of the version) of our vendor type
    other = False  # some range with q > 0 that is not our vendor type
    unsupported = False
    for part in (accept or "").split(","):
        media, _, params = part.strip().partition(";")
        media = media.strip().lower()
        if not media:
            continue
        q = _quality(params)
        match = _VENDOR.fullmatch(media)
        if match is None:
            other = other or q > 0
            continue
        version = (match["version"] or CURRENT_VERSION).lower()
        if version not in SUPPORTED_VERSIONS:
            unsupported = unsupported or q > 0
            continue
        rank = (q, SUPPORTED_VERSIONS.index(version))
        if q > 0 and (best is None or rank > best):
            best = rank
    if best is not None:
        return Negotiated(media_type=vendor_media_type(SUPPORTED_VERSIONS[best[1]]))
    # Only unsupported versions of our type, and nothing else we could answer.
    return Negotiated(media_type=None, acceptable=other or not unsupported)


def _quality(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "q":
            value = value.strip()
            # A malformed weight counts as "not acceptable" rather than as a guess.
            return float(value) if _Q.fullmatch(value) else 0.0
    return 1.0


class ApiVersionMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self.app(scope, receive, _labelled_handshake(send))
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chosen = negotiate(Headers(scope=scope).get("accept"))

        async def labelled_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers[VERSION_HEADER] = CURRENT_VERSION
                vary = headers.get("vary")
                if vary is None or "accept" not in vary.lower():
                    headers["Vary"] = f"{vary}, Accept" if vary else "Accept"
                content_type = headers.get("content-type", "")
                media, sep, rest = content_type.partition(";")
                if chosen.media_type and media.strip().lower() == JSON:
                    headers["Content-Type"] = chosen.media_type + sep + rest
            await send(message)

        if not chosen.acceptable:
            response = error_response(
                path=scope["path"],
                status_code=406,
                message="This API serves version " + ", ".join(SUPPORTED_VERSIONS) + " only",
                details={
                    "supported_versions": list(SUPPORTED_VERSIONS),
                    "supported_media_types": [*SUPPORTED_MEDIA_TYPES, JSON],
                },
            )
            await response(scope, receive, labelled_send)
            return
        await self.app(scope, receive, labelled_send)


def _labelled_handshake(send: Send) -> Send:
    """A WebSocket's handshake answer carries `API-Version` too; its frames cannot."""

    async def labelled(message: Message) -> None:
        if message["type"] == "websocket.accept":
            headers = [*message.get("headers", ()), (b"api-version", CURRENT_VERSION.encode())]
            message = {**message, "headers": headers}
        await send(message)

    return labelled
