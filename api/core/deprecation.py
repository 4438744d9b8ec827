"""The registry of deprecated routes, and the headers their answers carry.

A deprecated route keeps working until its sunset and says so on every answer, errors
included, in the CloudCore document's words:

    Deprecation: true
    Sunset: Wed, 15 Jan 2025 00:00:00 GMT
    Alternate: /api/v2/kubeedge/devices
    Link: </api/v2/kubeedge/devices>; rel="successor-version"

`Link` with `successor-version` (RFC 5829) is the standard spelling of `Alternate`, which
only the document uses. Its operation is `deprecated: true` in the OpenAPI, with these
headers documented (api.core.openapi).

DEPRECATED is empty: neither document names a route of ours as deprecated (the
CloudCore document shows the headers with a `/api/v2` successor, and there is no v2 of
any route). A route is deprecated by adding an entry here, never on the route itself;
`create_app` refuses an entry that names no route. The registry is the app's own
(`create_app(deprecations=...)`): FastAPI's per-route `deprecated` flag is never set,
since routers are shared by every app in the process.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.datastructures import MutableHeaders
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.core.route_facts import api_routes


@dataclass(frozen=True, kw_only=True)
class Deprecation:
    method: str  # "GET"
    path: str  # the route's template, as declared: "/api/kubeedge/device/{device_id}"
    sunset: datetime  # when the route may go away; timezone-aware
    successor: str  # the path (or URL) that replaces it

    def headers(self) -> dict[str, str]:
        return {
            "Deprecation": "true",
            "Sunset": http_date(self.sunset),
            "Alternate": self.successor,
            "Link": f'<{self.successor}>; rel="successor-version"',
        }


DEPRECATED: tuple[Deprecation, ...] = ()


def http_date(moment: datetime) -> str:
    """RFC 9110's IMF-fixdate: `Wed, 15 Jan 2025 00:00:00 GMT`."""
    if moment.tzinfo is None:
        raise ValueError("a sunset needs a timezone")
    return format_datetime(moment.astimezone(UTC), usegmt=True)


Marked = tuple[tuple[APIRoute, Deprecation], ...]


def mark_deprecated(app: FastAPI, registry: Iterable[Deprecation]) -> Marked:
    """The app's routes each entry names. The routes themselves are left alone: routers are
    module-level and shared by every app in the process (tests build many)."""
    marked: list[tuple[APIRoute, Deprecation]] = []
    for entry in registry:
        found = next(
            (
                r
                for r in api_routes(app.routes)
                if r.path_format == entry.path and entry.method in (r.methods or ())
            ),
            None,
        )
        if found is None:
            raise ValueError(f"no route {entry.method} {entry.path} to deprecate")
        route = found.original_route
        assert isinstance(route, APIRoute)  # api_routes yields API routes only
        marked.append((route, entry))
    return tuple(marked)


class DeprecationHeadersMiddleware:
    """Adds a deprecated route's headers to its answers, found the way the router finds it."""

    def __init__(self, app: ASGIApp, *, marked: Marked) -> None:
        self.app = app
        self.marked = marked

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        entry = self._entry(scope) if self.marked and scope["type"] == "http" else None
        if entry is None:
            await self.app(scope, receive, send)
            return
        extra = entry.headers()

        async def announcing_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra.items():
                    # A list's own Link (rel="next") stays: Link may be sent more than once.
                    if name == "Link":
                        headers.append(name, value)
                    else:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, announcing_send)

    def _entry(self, scope: Scope) -> Deprecation | None:
        # The first full match is the route that will answer, as in the router.
        for route in api_routes(scope["app"].routes):
            if route.matches(scope)[0] == Match.FULL:
                # Routes compare by path and endpoint, not identity, and are unhashable.
                return next((e for r, e in self.marked if r is route.original_route), None)
        return None
