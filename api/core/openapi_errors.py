"""Error responses and response headers as the OpenAPI document describes them.

Each error response points at its contract's envelope and carries an example in that
contract's words: the codes and phrases of the CloudCore document's error table and of
the Edge document's error list, its `details` example included. 406 and 413 are ours.
"""

from __future__ import annotations

from typing import Any

from fastapi.openapi.constants import REF_PREFIX

from api.core.envelopes import Contract, error_body, error_model, status_phrase
from api.core.versioning import JSON, SUPPORTED_MEDIA_TYPES, SUPPORTED_VERSIONS, VERSION_HEADER

HEADER_PREFIX = "#/components/headers/"

_CLOUDCORE_MESSAGES = {
    400: "Invalid request parameters",
    401: "Authentication failed",
    403: "Insufficient permissions",
    404: "Resource not found",
    409: "Resource already exists",
    429: "Rate limit exceeded",
    500: "Internal server error",
    502: "Edge device unreachable",
    503: "Service unavailable",
}
_EDGE_MESSAGES = {
    400: "Invalid request parameters",
    401: "Authentication failed or token expired",
    403: "Insufficient permissions for the requested operation",
    404: "Requested resource not found",
    409: "Resource conflict (e.g., duplicate name)",
    500: "Server-side error",
    503: "Service temporarily unavailable",
}
_NOT_ACCEPTABLE_DETAILS = {
    "supported_versions": list(SUPPORTED_VERSIONS),
    "supported_media_types": [*SUPPORTED_MEDIA_TYPES, JSON],
}

# Response headers, defined once under components.headers and referenced.
HEADERS: dict[str, dict[str, Any]] = {
    VERSION_HEADER: {
        "description": "The API version that answered",
        "required": True,
        "schema": {"type": "string", "example": SUPPORTED_VERSIONS[-1]},
    },
    "Retry-After": {
        "description": "Seconds to wait before retrying",
        "schema": {"type": "integer", "example": 5},
    },
    "X-RateLimit-Limit": {
        "description": "Requests allowed per minute",
        "schema": {"type": "integer", "example": 100},
    },
    "X-RateLimit-Remaining": {
        "description": "Requests left in the current window",
        "schema": {"type": "integer", "example": 0},
    },
    "X-RateLimit-Reset": {
        "description": "Epoch seconds when a request is admitted again",
        "schema": {"type": "integer", "example": 1625140800},
    },
    "Deprecation": {
        "description": "`true`: this operation is deprecated",
        "required": True,
        "schema": {"type": "string", "example": "true"},
    },
    "Sunset": {
        "description": "HTTP-date after which the operation may be removed",
        "required": True,
        "schema": {"type": "string", "example": "Wed, 15 Jan 2025 00:00:00 GMT"},
    },
    "Alternate": {
        "description": "The operation's successor",
        "required": True,
        "schema": {"type": "string", "example": "/api/v2/kubeedge/devices"},
    },
    "Link": {
        "description": '`<successor>; rel="successor-version"`',
        "required": True,
        "schema": {"type": "string"},
    },
}
_BY_STATUS = {
    429: ("Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"),
    503: ("Retry-After",),
}
DEPRECATION_HEADERS = ("Deprecation", "Sunset", "Alternate", "Link")


def error_example(contract: Contract, status: int) -> dict[str, Any]:
    messages = _EDGE_MESSAGES if contract is Contract.EDGE else _CLOUDCORE_MESSAGES
    details: dict[str, Any] = {}
    if status == 406:
        details = _NOT_ACCEPTABLE_DETAILS
    elif status == 400 and contract is Contract.EDGE:
        details = {"field": "Additional error details"}
    return error_body(
        contract=contract,
        status_code=status,
        message=messages.get(status, status_phrase(status)),
        details=details,
    )


def envelope_ref(contract: Contract) -> str:
    return REF_PREFIX + error_model(contract).__name__


def error_response(contract: Contract, status: int, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            JSON: {
                "schema": {"$ref": envelope_ref(contract)},
                "example": error_example(contract, status),
            }
        },
    }


def complete_error(response: dict[str, Any], contract: Contract, status: int) -> None:
    """A route's own error response gets the envelope schema and an example if it lacks them."""
    media = response.setdefault("content", {}).setdefault(JSON, {})
    if not media.get("schema"):
        media["schema"] = {"$ref": envelope_ref(contract)}
    if media["schema"].get("$ref") == envelope_ref(contract):
        media.setdefault("example", error_example(contract, status))


def add_headers(response: dict[str, Any], status: int, *, deprecated: bool) -> None:
    names = (
        VERSION_HEADER,
        *_BY_STATUS.get(status, ()),
        *(DEPRECATION_HEADERS if deprecated else ()),
    )
    headers = response.setdefault("headers", {})
    for name in names:
        headers.setdefault(name, {"$ref": HEADER_PREFIX + name})


def add_vendor_media_types(response: dict[str, Any]) -> None:
    """What answers JSON answers the vendor media type too, to a client that asks for it."""
    content = response.get("content", {})
    if JSON in content:
        for media_type in SUPPORTED_MEDIA_TYPES:
            content.setdefault(media_type, dict(content[JSON]))
