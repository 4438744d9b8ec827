"""Typed errors, one class per HTTP status, built from either contract's error envelope.

CloudCore answers `{"status": "error", "code": "API-004", "message", "details"}`, the
Edge API `{"error": true, "code": "NOT_FOUND", "message", "details"}`; both carry the
code, the message and the details (for a 400, the field errors by field path).
"""

from __future__ import annotations

from typing import Any

import httpx


class CloudCoreError(Exception):
    """Base of every error this SDK raises."""


class ConnectionFailed(CloudCoreError):
    """The server could not be reached (refused, DNS, TLS, timed out)."""


class WaitTimeout(CloudCoreError):
    """A wait helper gave up before the operation finished; `last` is what it saw last."""

    def __init__(self, message: str, *, last: Any = None) -> None:
        super().__init__(message)
        self.last = last


class StreamRevoked(CloudCoreError):
    """The server closed a live stream because the credentials stopped working."""


class ApiError(CloudCoreError):
    """The server answered with an error status."""

    status: int = 0

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        retry_after: float | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.details: dict[str, Any] = details or {}
        self.retry_after = retry_after
        self.body = body

    def __str__(self) -> str:
        code = f" {self.code}" if self.code else ""
        return f"{self.status}{code}: {self.message}"

    def field_errors(self) -> list[str]:
        """`field: problem` lines from the details, for printing a refused request."""
        return [f"{field}: {problem}" for field, problem in self.details.items()]


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404


class MethodNotAllowed(ApiError):
    status = 405


class Conflict(ApiError):
    status = 409


class PayloadTooLarge(ApiError):
    status = 413


class UnsupportedMediaType(ApiError):
    status = 415


class RateLimited(ApiError):
    status = 429


class ServerError(ApiError):
    status = 500


class BadGateway(ApiError):
    status = 502


class Unavailable(ApiError):
    status = 503


class GatewayTimeout(ApiError):
    status = 504


_BY_STATUS: dict[int, type[ApiError]] = {
    cls.status: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        Conflict,
        PayloadTooLarge,
        UnsupportedMediaType,
        RateLimited,
        ServerError,
        BadGateway,
        Unavailable,
        GatewayTimeout,
    )
}


def retry_after_seconds(response: httpx.Response) -> float | None:
    """`Retry-After` in seconds (the API sends delta-seconds); None when absent or odd."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def error_from_response(response: httpx.Response) -> ApiError:
    """The typed error for an error answer (its body already read)."""
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    envelope = body if isinstance(body, dict) else {}
    message = str(envelope.get("message") or response.reason_phrase or "error")
    details = envelope.get("details")
    code = envelope.get("code")
    status = response.status_code
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else ApiError)
    return cls(
        message,
        status=status,
        code=str(code) if code is not None else None,
        details=details if isinstance(details, dict) else {},
        retry_after=retry_after_seconds(response),
        body=body,
    )
