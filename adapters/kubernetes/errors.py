"""Kubernetes API failures, classified for Temporal.

In the spirit of kopf's `_cogs/clients/errors.py`: the HTTP status decides. A 4xx other than
409 and 429 will fail the same way on every retry, so it becomes a non-retryable
`ApplicationError` with a typed `type`; 409, 429, 5xx, timeouts and connection errors are
transient and stay retryable. Messages name the object and the API's reason, never a body
(bodies of Secrets and ConfigMaps may hold secrets).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import urllib3.exceptions
from kubernetes.client.exceptions import ApiException
from temporalio.exceptions import ApplicationError

from workflows.contracts.common import ErrorType, TransientKubeError

_FINAL_BY_STATUS: dict[int, ErrorType] = {
    400: ErrorType.KUBE_REJECTED,
    401: ErrorType.UNAUTHORIZED,
    403: ErrorType.FORBIDDEN,
    404: ErrorType.NOT_FOUND,
    422: ErrorType.INVALID,
}

# Raised by urllib3 and the socket layer before any HTTP status exists.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (urllib3.exceptions.HTTPError, OSError)

_MAX_API_MESSAGE = 300


def api_reason(exc: ApiException) -> tuple[str, str]:
    """The `reason` and `message` of the Status object the API answered with, if any."""
    reason = str(exc.reason or "")
    message = ""
    try:
        status: Any = json.loads(exc.body) if exc.body else None
    except (TypeError, ValueError):
        status = None
    if isinstance(status, dict) and status.get("kind") == "Status":
        reason = str(status.get("reason") or reason)
        message = str(status.get("message") or "")[:_MAX_API_MESSAGE]
    return reason, message


def _retry_after(exc: ApiException) -> timedelta | None:
    value = (exc.headers or {}).get("Retry-After")
    try:
        return timedelta(seconds=int(value)) if value is not None else None
    except ValueError:  # an HTTP date: let Temporal's backoff decide
        return None


def classify_api_exception(exc: ApiException, *, what: str) -> ApplicationError:
    """The `ApplicationError` to raise for an API answer that is not a success."""
    status = int(exc.status or 0)
    reason, message = api_reason(exc)
    text = f"{what}: HTTP {status} {reason}" + (f": {message}" if message else "")
    if status == 0:  # the client's wrapper for TLS and protocol failures
        return ApplicationError(text, status, type=TransientKubeError.UNAVAILABLE)
    if status == 409:
        return ApplicationError(text, status, type=TransientKubeError.CONFLICT)
    if status == 429:
        return ApplicationError(
            text, status, type=TransientKubeError.THROTTLED, next_retry_delay=_retry_after(exc)
        )
    if 400 <= status < 500:
        error_type = _FINAL_BY_STATUS.get(status, ErrorType.KUBE_REJECTED)
        return ApplicationError(text, status, type=error_type, non_retryable=True)
    return ApplicationError(text, status, type=TransientKubeError.SERVER_ERROR)


def classify_connection_error(exc: BaseException, *, what: str) -> ApplicationError:
    # urllib3 messages name the host and port, never a request body.
    detail = f"{type(exc).__name__}: {exc}"[:_MAX_API_MESSAGE]
    return ApplicationError(
        f"{what}: Kubernetes API unreachable ({detail})", type=TransientKubeError.UNAVAILABLE
    )


def describe(*, action: str, kind: str, name: str, namespace: str | None = None) -> str:
    target = f"{namespace}/{name}" if namespace else name
    return f"{action} {kind} {target}"


@contextmanager
def kube_errors(
    *, action: str, kind: str, name: str, namespace: str | None = None
) -> Iterator[None]:
    """Translate whatever a Kubernetes call raises into a classified `ApplicationError`.

    Handle the statuses you expect (409 on create, 404 on delete) inside the block; anything
    that escapes it is classified here. The original exception is not chained: its text
    carries response headers and bodies that do not belong in Temporal history.
    """
    what = describe(action=action, kind=kind, name=name, namespace=namespace)
    try:
        yield
    except ApiException as exc:
        raise classify_api_exception(exc, what=what) from None
    except CONNECTION_ERRORS as exc:
        raise classify_connection_error(exc, what=what) from None


@contextmanager
def ignore_status(*statuses: int) -> Iterator[None]:
    """Treat the given API statuses as success (e.g. 404 on delete: already gone)."""
    try:
        yield
    except ApiException as exc:
        if exc.status not in statuses:
            raise
