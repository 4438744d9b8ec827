"""The two error envelopes we serve, and which one a request path gets.

One app serves two contracts. A client of the Edge Computing Framework API (`/api/v1`)
parses `{"error": true, "code": "NOT_FOUND", ...}`; a client of the CloudCore API
(everything else) switches on the `API-00x` codes of its error table. The envelope is
chosen by path alone, so even a 404 for a route that does not exist speaks the dialect of
the contract the client was calling.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from http import HTTPStatus
from typing import Any, Literal

from pydantic import BaseModel, Field
from starlette.responses import JSONResponse

EDGE_PREFIX = "/api/v1"


class Contract(StrEnum):
    CLOUDCORE = "cloudcore"  # /api/auth, /api/health, /api/kubeedge, /ws and anything unknown
    EDGE = "edge"  # /api/v1


def contract_for_path(path: str) -> Contract:
    if path == EDGE_PREFIX or path.startswith(EDGE_PREFIX + "/"):
        return Contract.EDGE
    return Contract.CLOUDCORE


# Codes named by the seed, plus a few for statuses it does not list (docs/api-notes.md).
_EDGE_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
    502: "BAD_GATEWAY",
    503: "SERVICE_UNAVAILABLE",
    504: "GATEWAY_TIMEOUT",
}

# The CloudCore error table, code for code. Statuses it lacks (405, 413, 504, ...) keep
# their real HTTP status and borrow the nearest code: API-001 or API-007.
_CLOUDCORE_CODES = {
    400: "API-001",
    401: "API-002",
    403: "API-003",
    404: "API-004",
    409: "API-005",
    429: "API-006",
    500: "API-007",
    502: "API-008",
    503: "API-009",
}


def error_code(*, contract: Contract, status_code: int) -> str:
    if contract is Contract.EDGE:
        table, client_fault, server_fault = _EDGE_CODES, "BAD_REQUEST", "INTERNAL_ERROR"
    else:
        table, client_fault, server_fault = _CLOUDCORE_CODES, "API-001", "API-007"
    return table.get(status_code, client_fault if status_code < 500 else server_fault)


def error_body(
    *,
    contract: Contract,
    status_code: int,
    message: str,
    details: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    code = error_code(contract=contract, status_code=status_code)
    # `details` is always an object, so clients can index it without a None check.
    extra = dict(details or {})
    if contract is Contract.EDGE:
        return {"error": True, "code": code, "message": message, "details": extra}
    return {"status": "error", "code": code, "message": message, "details": extra}


def error_response(
    *,
    path: str,
    status_code: int,
    message: str | None = None,
    details: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The error response for a request to `path`, in that contract's envelope."""
    body = error_body(
        contract=contract_for_path(path),
        status_code=status_code,
        message=message or status_phrase(status_code),
        details=details,
    )
    return JSONResponse(body, status_code=status_code, headers=dict(headers or {}))


def status_phrase(status_code: int) -> str:
    try:
        return HTTPStatus(status_code).phrase
    except ValueError:
        return "Error"


# --- schemas, for the OpenAPI document only ---------------------------------------------


class EdgeError(BaseModel):
    """Error envelope of the /api/v1 endpoints."""

    error: Literal[True] = True
    code: str = Field(examples=["NOT_FOUND"])
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class CloudCoreError(BaseModel):
    """Error envelope of the CloudCore endpoints (/api/auth, /api/health, /api/kubeedge)."""

    status: Literal["error"] = "error"
    code: str = Field(examples=["API-004"])
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


def error_model(contract: Contract) -> type[BaseModel]:
    return EdgeError if contract is Contract.EDGE else CloudCoreError
