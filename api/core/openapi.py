"""The OpenAPI document, corrected to say what the API really answers, and its URLs.

FastAPI documents a 422 `HTTPValidationError` on every operation with parameters; we
answer bad input with 400 in the contract's envelope (api.core.errors), so the document is
rewritten to match, and every operation that takes a body declares the 413 of
api.core.body_limit. Then every operation gets what its route can answer
(api.core.route_facts), each error with its contract's envelope and an example, the
`API-Version` header on every response, the vendor media type beside `application/json`
(api.core.versioning), and the deprecation headers where the route is deprecated
(api.core.deprecation).

It is served at FastAPI's /openapi.json and /docs and also where the CloudCore document
promises it: /api/kubeedge/openapi.json and /api/kubeedge/swagger-ui, beside the Postman
collection made from it, /api/kubeedge/postman.json (api.core.postman).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.constants import REF_PREFIX
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import RouteContext
from starlette.routing import BaseRoute

from api.core.body_limit import LARGER_BODIES
from api.core.deprecation import Deprecation, Marked
from api.core.envelopes import Contract, contract_for_path, error_model
from api.core.openapi_errors import (
    HEADERS,
    add_headers,
    add_vendor_media_types,
    complete_error,
    error_response,
)
from api.core.postman import collection
from api.core.route_facts import DESCRIPTIONS, PATH_LOOKUP, api_routes, derived_statuses

CLOUDCORE_OPENAPI_URL = "/api/kubeedge/openapi.json"
CLOUDCORE_SWAGGER_URL = "/api/kubeedge/swagger-ui"
POSTMAN_URL = "/api/kubeedge/postman.json"
_UNUSED = ("HTTPValidationError", "ValidationError")


DocumentRewriter = Callable[[dict[str, Any]], dict[str, Any]]


class EdgewrightAPI(FastAPI):
    deprecations: Marked = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Answers a middleware adds to operations (the maintenance gate's 503), written
        # in before the route facts complete every error with its envelope and headers.
        self.document_rewriters: list[DocumentRewriter] = []

    def openapi(self) -> dict[str, Any]:
        # FastAPI caches the document; every step below is idempotent, so running it on
        # a cached document is harmless.
        document = with_error_envelopes(super().openapi())
        for rewrite in self.document_rewriters:
            document = rewrite(document)
        return with_route_facts(document, self.routes, self.deprecations)


def with_route_facts(
    document: dict[str, Any], routes: Sequence[BaseRoute], marked: Marked
) -> dict[str, Any]:
    """Every status each route can answer, headers and media types, on each operation."""
    components = document.setdefault("components", {})
    headers = components.setdefault("headers", {})
    for name, header in HEADERS.items():
        headers.setdefault(name, header)
    for route in api_routes(routes):
        if not route.include_in_schema:
            continue
        item = document.get("paths", {}).get(route.path_format, {})
        sunset = next((e for r, e in marked if r is route.original_route), None)
        for method in route.methods or ():
            operation = item.get(method.lower())
            if isinstance(operation, dict):
                complete_operation(operation, route, method, sunset)
    return document


def complete_operation(
    operation: dict[str, Any], route: RouteContext, method: str, sunset: Deprecation | None
) -> None:
    operation.pop(PATH_LOOKUP, None)
    contract = contract_for_path(route.path_format or "")
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status in derived_statuses(route, method):
        responses.setdefault(str(status), error_response(contract, status, DESCRIPTIONS[status]))
    for code, response in responses.items():
        if code.isdigit() and int(code) >= 400:
            complete_error(response, contract, int(code))
        add_headers(response, int(code) if code.isdigit() else 0, deprecated=sunset is not None)
        add_vendor_media_types(response)
    operation["responses"] = dict(sorted(responses.items()))
    if sunset is not None:
        operation["deprecated"] = True
        note = f"Deprecated: may be removed after {sunset.sunset:%Y-%m-%d}; use {sunset.successor}."
        if note not in operation.get("description", ""):
            operation["description"] = f"{operation.get('description', '')}\n\n{note}".strip()


def with_error_envelopes(document: dict[str, Any]) -> dict[str, Any]:
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    for contract in Contract:
        model = error_model(contract)
        schemas.setdefault(
            model.__name__, model.model_json_schema(ref_template=REF_PREFIX + "{model}")
        )
    for path, operations in document.get("paths", {}).items():
        ref = REF_PREFIX + error_model(contract_for_path(path)).__name__
        for method, operation in operations.items():
            responses = operation.get("responses", {}) if isinstance(operation, dict) else {}
            # batch-join reads its body itself (JSON, YAML, CSV, upload), so FastAPI
            # documents no requestBody for it.
            takes_body = "requestBody" in operation or (method == "post" and path in LARGER_BODIES)
            if isinstance(operation, dict) and takes_body:
                responses.setdefault(
                    "413",
                    {
                        "description": "Request body larger than the configured limit",
                        "content": {"application/json": {"schema": {"$ref": ref}}},
                    },
                )
            if responses.pop("422", None) is None:
                continue
            responses.setdefault(
                "400",
                {
                    "description": "Invalid request parameters, one entry per field in details",
                    "content": {"application/json": {"schema": {"$ref": ref}}},
                },
            )
    for name in _UNUSED:
        schemas.pop(name, None)
    return document


def add_cloudcore_docs(app: FastAPI) -> None:
    @app.get(CLOUDCORE_OPENAPI_URL, include_in_schema=False)
    async def cloudcore_openapi(request: Request) -> JSONResponse:
        return JSONResponse(request.app.openapi())

    @app.get(POSTMAN_URL, include_in_schema=False)
    async def postman_collection(request: Request) -> JSONResponse:
        return JSONResponse(collection(request.app.openapi()))

    @app.get(CLOUDCORE_SWAGGER_URL, include_in_schema=False)
    async def cloudcore_swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=CLOUDCORE_OPENAPI_URL, title=f"{app.title} - Swagger UI"
        )
