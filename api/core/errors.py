"""Every error the API answers goes through here and leaves in its contract's envelope.

Route code raises `ApiError(status, message, details=...)` and never builds an error body
itself; the envelope (and its code, `NOT_FOUND` or `API-004`) follows from the path. The
handlers below also translate what FastAPI and Starlette raise on their own (unknown
route, wrong method, validation) and anything unexpected, which becomes a 500 that
names nothing internal.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, Generic, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.core.audit_slot import audit_slot
from api.core.envelopes import error_response, status_phrase

logger = logging.getLogger(__name__)

_LOCATIONS = {"body", "query", "path", "header", "cookie"}

P = TypeVar("P", bound=BaseModel)


class ApiError(Exception):
    """An error answer: HTTP status, a message for humans and optional details."""

    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.details = dict(details or {})
        self.headers = dict(headers or {})


# What starting or attaching to a workflow run can end in (api.core.runs). They are
# ApiErrors, so an uncaught one leaves through api_error_handler in the caller's envelope;
# routes catch them where their contract answers otherwise (a 202 with the run so far).


class RunConflict(ApiError):
    """The run's ID belongs to a run that another request started: 409."""

    def __init__(self, message: str, *, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(409, message, details=details)


class RunClosed(RunConflict):
    """The ID's run is over and its reuse policy starts no other under that ID."""

    def __init__(self, workflow_id: str, *, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(f"{workflow_id} is over and does not run again", details=details)
        self.workflow_id = workflow_id


class RunStillRunning(ApiError, Generic[P]):
    """No answer within the bound; the run goes on (503 where a route has no 202 for it).

    `progress` is what the run says so far; None when it was not asked, or not found.
    """

    def __init__(self, progress: P | None = None) -> None:
        super().__init__(503, "The run is still going; retry shortly", headers={"Retry-After": "5"})
        self.progress = progress


async def api_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    slot = audit_slot(request.scope)
    if slot is not None and exc.status_code == HTTPStatus.FORBIDDEN:
        slot.denial = exc.message  # api.core.audit records the 403 with it
    return error_response(
        path=request.url.path,
        status_code=exc.status_code,
        message=exc.message,
        details=exc.details,
        headers=exc.headers,
    )


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    details: Mapping[str, Any] | None = None
    message: str | None = None
    if isinstance(exc.detail, Mapping):
        details = exc.detail
    elif exc.detail and exc.detail != status_phrase(exc.status_code):
        message = str(exc.detail)
    # Starlette's own 404/405 carry only the bare phrase; say what was asked instead.
    if message is None and exc.status_code == HTTPStatus.NOT_FOUND:
        message = f"No resource at {request.url.path}"
    elif message is None and exc.status_code == HTTPStatus.METHOD_NOT_ALLOWED:
        message = f"Method {request.method} is not allowed on {request.url.path}"
    return error_response(
        path=request.url.path,
        status_code=exc.status_code,
        message=message,
        details=details,
        headers=exc.headers,
    )


async def validation_exception_handler(request: Request, exc: Exception) -> Response:
    # 400 rather than FastAPI's 422: both seeds answer bad input with 400 (API-001,
    # BAD_REQUEST) and their clients know no 422.
    assert isinstance(exc, RequestValidationError)
    message, details = describe_validation_errors(exc.errors())
    return error_response(path=request.url.path, status_code=400, message=message, details=details)


def describe_validation_errors(errors: Sequence[Any]) -> tuple[str, dict[str, str]]:
    """A message and `{field path: problem}`; never the rejected input (it may be a secret)."""
    details: dict[str, str] = {}
    for error in errors:
        if error.get("type") == "json_invalid":
            reason = (error.get("ctx") or {}).get("error", "invalid JSON")
            position = error["loc"][-1] if len(error.get("loc", ())) > 1 else None
            where = f" at position {position}" if isinstance(position, int) else ""
            return "Request body is not valid JSON", {"body": f"{reason}{where}"}
        key = _field_path(tuple(error.get("loc", ())))
        problem = str(error.get("msg", "invalid value"))
        details[key] = f"{details[key]}; {problem}" if key in details else problem
    count = len(details)
    noun = "field" if count == 1 else "fields"
    return f"Invalid request parameters ({count} {noun})", details


def _field_path(loc: tuple[Any, ...]) -> str:
    # ("body", "devices", 0, "node_name") -> "devices[0].node_name"; the location is
    # dropped because clients name fields, not where FastAPI found them.
    parts = loc[1:] if loc and loc[0] in _LOCATIONS else loc
    if not parts:
        return str(loc[0]) if loc else "request"
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "request"


class UnhandledErrorMiddleware:
    """Turns an exception no handler took into a 500 in the caller's envelope.

    A middleware rather than an `Exception` handler: Starlette re-raises after running
    such a handler, so the server would log the traceback a second time and test clients
    would see the exception instead of the response.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            logger.exception("unhandled error in %s %s", scope["method"], scope["path"])
            if started:  # too late for an error body; let the server drop the connection
                raise
            response = error_response(
                path=scope["path"],
                status_code=500,
                message="Internal server error; the details are in the server log",
            )
            await response(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, api_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_exception_handler)
    app.add_exception_handler(RequestValidationError, validation_exception_handler)
    app.add_middleware(UnhandledErrorMiddleware)
