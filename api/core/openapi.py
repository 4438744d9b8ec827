"""The OpenAPI document, corrected to say what the API really answers, and its URLs.

FastAPI documents a 422 `HTTPValidationError` on every operation with parameters; we
answer bad input with 400 in the contract's envelope (api.core.errors), so the document is
rewritten to match, and every operation that takes a body declares the 413 of
api.core.body_limit. It is served at FastAPI's /openapi.json and /docs and also where the
CloudCore document promises it: /api/kubeedge/openapi.json and /api/kubeedge/swagger-ui.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.constants import REF_PREFIX
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from api.core.body_limit import LARGER_BODIES
from api.core.envelopes import Contract, contract_for_path, error_model

CLOUDCORE_OPENAPI_URL = "/api/kubeedge/openapi.json"
CLOUDCORE_SWAGGER_URL = "/api/kubeedge/swagger-ui"
_UNUSED = ("HTTPValidationError", "ValidationError")


DocumentRewriter = Callable[[dict[str, Any]], dict[str, Any]]


class EdgewrightAPI(FastAPI):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Answers a middleware adds to operations (the maintenance gate's 503), written
        # into the document after the error envelopes. Each must be idempotent too.
        self.document_rewriters: list[DocumentRewriter] = []

    def openapi(self) -> dict[str, Any]:
        # FastAPI caches the document and rebuilds it when routes change; the rewrite is
        # idempotent, so running it on a cached document is harmless.
        document = with_error_envelopes(super().openapi())
        for rewrite in self.document_rewriters:
            document = rewrite(document)
        return document


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

    @app.get(CLOUDCORE_SWAGGER_URL, include_in_schema=False)
    async def cloudcore_swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=CLOUDCORE_OPENAPI_URL, title=f"{app.title} - Swagger UI"
        )
