"""A store or Temporal that is down or overloaded is a 503 with Retry-After, not a 500.

What the route was doing did not happen (its transaction rolled back), so the caller may
retry as it is: the client libraries of both documents retry a 503 after Retry-After.
Anything else from the same libraries (a constraint broken, a workflow that failed) is a
defect, and stays a 500 (api.core.errors.UnhandledErrorMiddleware).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.responses import Response
from temporalio.service import RPCError, RPCStatusCode

from api.core.envelopes import error_response

logger = logging.getLogger(__name__)

# Temporal's answers that mean "not now": unreachable, too slow, or rate-limited.
TEMPORAL_BUSY = frozenset(
    {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.RESOURCE_EXHAUSTED}
)
STORE_BUSY_RETRY_SECONDS = 2
UNREACHABLE_RETRY_SECONDS = 5


def _unavailable(request: Request, message: str, *, retry_after: int) -> Response:
    return error_response(
        path=request.url.path,
        status_code=503,
        message=message,
        headers={"Retry-After": str(retry_after)},
    )


async def store_busy(request: Request, exc: Exception) -> Response:
    """Every pooled connection stayed in use for the pool's whole timeout."""
    logger.warning("no store connection free for %s %s", request.method, request.url.path)
    return _unavailable(
        request, "The store is busy; retry shortly", retry_after=STORE_BUSY_RETRY_SECONDS
    )


async def store_unreachable(request: Request, exc: Exception) -> Response:
    """DB-API's OperationalError and InterfaceError: the database's fault, not the
    statement's (connection lost, server shutting down, SQLite's file locked past its
    busy timeout). A statement the store refused (IntegrityError, ...) stays a 500."""
    assert isinstance(exc, DBAPIError)
    # The driver's own message, not SQLAlchemy's: that one carries the statement's parameters.
    logger.warning("store unavailable for %s %s: %s", request.method, request.url.path, exc.orig)
    return _unavailable(
        request, "The store is unavailable; retry shortly", retry_after=UNREACHABLE_RETRY_SECONDS
    )


async def temporal_busy(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RPCError)
    if exc.status not in TEMPORAL_BUSY:
        raise exc
    logger.warning(
        "Temporal %s for %s %s: %s", exc.status.name, request.method, request.url.path, exc.message
    )
    return _unavailable(
        request,
        "Temporal is unavailable or overloaded; retry shortly",
        retry_after=UNREACHABLE_RETRY_SECONDS,
    )


def install_unavailable_handlers(app: FastAPI) -> None:
    app.add_exception_handler(PoolTimeout, store_busy)
    app.add_exception_handler(OperationalError, store_unreachable)
    app.add_exception_handler(InterfaceError, store_unreachable)
    app.add_exception_handler(RPCError, temporal_busy)
