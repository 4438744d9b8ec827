"""Counts and times every HTTP request by its route template (`/api/kubeedge/device/{device_id}`),
never its raw path, so device IDs stay out of the labels.

Plain ASGI rather than BaseHTTPMiddleware: streaming answers (SSE) pass untouched, and
the time measured is to the response's headers, which is what a stream can report.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.observability.metrics import ApiMetrics

UNMATCHED = "unmatched"  # 404s for paths no route knows: one label, whatever was asked
# Any other method a client makes up counts as OTHER: a label value per request is not.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER = "OTHER"


class HttpMetricsMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers when the app raises before starting
        recorded = False
        self.metrics.in_flight.inc()

        def record() -> None:
            nonlocal recorded
            if recorded:
                return
            recorded = True
            self.metrics.observe(
                route=route_template(scope),
                method=method if (method := str(scope.get("method", ""))) in METHODS else OTHER,
                status=status,
                seconds=time.perf_counter() - started,
            )

        async def counting_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                record()
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            record()
            self.metrics.in_flight.dec()


def route_template(scope: Scope) -> str:
    route: Any = scope.get("route")
    if isinstance(route, BaseRoute):
        path = getattr(route, "path", None)
        if isinstance(path, str):
            return path
    return UNMATCHED
