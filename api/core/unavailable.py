"""A store or Temporal that is down or overloaded is a 503 with Retry-After, not a 500.

What the route was doing did not happen (its transaction rolled back), so the caller may
retry as it is: the client libraries of both documents retry a 503 after Retry-After.
One exception: a run whose workflow task is being retried refuses updates for a moment;
it was started, and a retry under the same ID (a command's `command_id`) attaches to it.
Anything else from the same libraries (a constraint broken, a workflow that failed) is a
defect, and stays a 500 (api.core.errors.UnhandledErrorMiddleware).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from fastapi import FastAPI, Request
from google.protobuf.any_pb2 import Any as AnyProto
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.responses import Response
from temporalio.api.errordetails.v1 import MultiOperationExecutionFailure, WorkflowNotReadyFailure
from temporalio.service import RPCError, RPCStatusCode

from api.core.envelopes import error_response

logger = logging.getLogger(__name__)

# Temporal's answers that mean "not now": unreachable, too slow, or rate-limited (and a
# run whose workflow task is being retried: workflow_not_ready).
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


def _not_ready(details: Sequence[AnyProto]) -> bool:
    return any(detail.Is(WorkflowNotReadyFailure.DESCRIPTOR) for detail in details)


def workflow_not_ready(err: RPCError) -> bool:
    """An update refused because the run's workflow task failed or timed out, and waits to
    be retried: seen under 50 commands at once on a busy machine (bench.command_latency),
    where a workflow task outlived its timeout. Update-with-start says so in the status of
    its update operation."""
    if err.status != RPCStatusCode.FAILED_PRECONDITION:
        return False
    details = err.grpc_status.details
    if _not_ready(details):
        return True
    multi = MultiOperationExecutionFailure()
    return (
        bool(details)
        and details[0].Unpack(multi)
        and any(_not_ready(operation.details) for operation in multi.statuses)
    )


async def temporal_busy(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RPCError)
    if exc.status not in TEMPORAL_BUSY and not workflow_not_ready(exc):
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
