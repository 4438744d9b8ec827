"""The maintenance gate: while a window is open, writes are refused with 503.

One ASGI middleware for the whole app. A write (POST, PUT, PATCH, DELETE) to any path
not in EXEMPT is answered 503 in the envelope of the path's contract, with `Retry-After`
(seconds until the window's deadline) and the window's message; reads pass untouched.
The gate runs before authentication, so it refuses by path alone: every exempt write
still authenticates and checks its role in its route (maintenance and restore are
admin-only, so "an admin's maintenance calls" is what passes).

Exempt, and why:
- logging in and out: an admin must be able to log in to stop the window;
- the health endpoints;
- starting and stopping maintenance itself;
- restores: a restore runs inside maintenance (it opens its own window, or runs inside
  an operator's); a retried POST of the same restore must reach it;
- validating a token (a read, even if it is a POST), and taking access away (revoking a
  token, a node's join token or an API key): never refused, least of all during repairs.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi.openapi.constants import REF_PREFIX
from starlette.types import ASGIApp, Receive, Scope, Send

from api.core.envelopes import contract_for_path, error_model, error_response
from api.core.state import app_state
from store.maintenance import in_force
from store.models import utcnow
from workflows.contracts.maintenance import MaintenanceStatus

logger = logging.getLogger(__name__)

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# (method, full-match path pattern): the writes a window never refuses.
EXEMPT: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (method, re.compile(pattern))
    for method, pattern in (
        ("POST", r"/api/auth/login"),
        ("POST", r"/api/auth/logout"),
        ("*", r"/api/health(/.*)?"),
        ("POST", r"/api/kubeedge/maintenance/(start|stop)"),
        ("POST", r"/api/kubeedge/restore"),
        ("POST", r"/api/kubeedge/token/validate"),
        ("POST", r"/api/v1/security/tokens/(validate|revoke)"),
        ("DELETE", r"/api/kubeedge/token/[^/]+"),
        ("DELETE", r"/api/auth/api-keys/[^/]+"),
    )
)


def exempt(method: str, path: str) -> bool:
    return any(
        (allowed in ("*", method)) and pattern.fullmatch(path) is not None
        for allowed, pattern in EXEMPT
    )


def refusal_headers(status: MaintenanceStatus, *, now: datetime) -> dict[str, str]:
    assert status.ends_at is not None
    seconds = max(1, math.ceil((status.ends_at - now).total_seconds()))
    return {"Retry-After": str(seconds)}


def refusal_message(status: MaintenanceStatus) -> str:
    text = "Maintenance in progress; changes are refused until it ends"
    return f"{text}: {status.message}" if status.message else text


def refusal_details(status: MaintenanceStatus) -> dict[str, Any]:
    return {
        "maintenance": True,
        "reason": status.reason,
        "message": status.message,
        "started_at": status.started_at.isoformat() if status.started_at else None,
        "ends_at": status.ends_at.isoformat() if status.ends_at else None,
        "status_url": "/api/kubeedge/maintenance/status",
    }


class MaintenanceGate:
    def __init__(self, app: ASGIApp, *, now: Callable[[], datetime] = utcnow) -> None:
        self.app = app
        self._now = now

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in WRITES
            or exempt(scope["method"], scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        status = await self._window(scope)
        now = self._now()
        if status is None or not in_force(status, now=now):
            await self.app(scope, receive, send)
            return
        response = error_response(
            path=scope["path"],
            status_code=503,
            message=refusal_message(status),
            details=refusal_details(status),
            headers=refusal_headers(status, now=now),
        )
        await response(scope, receive, send)

    async def _window(self, scope: Scope) -> MaintenanceStatus | None:
        try:
            state = app_state(scope["app"])
        except RuntimeError:  # no lifespan (tooling, OpenAPI export): nothing to enforce
            return None
        try:
            return await state.maintenance.get(state.sessions)
        except Exception:
            # The store is away: let the write through, its route fails on the store too
            # (and answers in its envelope) rather than the gate guessing a window.
            logger.warning("maintenance gate: the window could not be read", exc_info=True)
            return None


def document_refusals(document: dict[str, Any]) -> dict[str, Any]:
    """Every write the gate may refuse documents its 503, in the path's envelope."""
    for path, operations in document.get("paths", {}).items():
        ref = REF_PREFIX + error_model(contract_for_path(path)).__name__
        for method, operation in operations.items():
            if not isinstance(operation, dict) or method.upper() not in WRITES:
                continue
            if exempt(method.upper(), _concrete(path)):
                continue
            responses = operation.setdefault("responses", {})
            existing = responses.get("503")
            if existing is not None:
                if _GATE_NOTE not in existing.get("description", "").lower():
                    existing["description"] = f"{existing['description']}; {_GATE_NOTE}"
                existing.setdefault("headers", {}).setdefault("Retry-After", _RETRY_AFTER)
                continue
            responses["503"] = {
                "description": _GATE_NOTE[0].upper() + _GATE_NOTE[1:],
                "headers": {"Retry-After": _RETRY_AFTER},
                "content": {"application/json": {"schema": {"$ref": ref}}},
            }
    return document


_GATE_NOTE = "maintenance in progress: writes are refused until it ends"
_RETRY_AFTER = {
    "description": "Seconds until the maintenance window ends",
    "schema": {"type": "integer"},
}


def _concrete(path: str) -> str:
    # A template's parameters as one segment each, so EXEMPT's patterns match it.
    return re.sub(r"\{[^}]+\}", "x", path)
