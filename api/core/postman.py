"""A Postman v2.1 collection made from the OpenAPI document: `GET /api/kubeedge/postman.json`.

One request per operation, in a folder per tag. `{{baseUrl}}` and `{{bearerToken}}` are
collection variables; the collection authenticates with the bearer token, and operations
that need no credentials (health, login) say `noauth`. Bodies and parameters are filled
from the schema's examples, defaults or, failing those, a value of the right type. It is
made from the document on each call, so it never lags behind the routes.
"""

from __future__ import annotations

import json
import re
from typing import Any

from api.core.versioning import CURRENT_VERSION, vendor_media_type

SCHEMA_URL = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
DEFAULT_BASE_URL = "http://127.0.0.1:8000"
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
_REF = "#/components/schemas/"
_DEPTH = 8  # nested schemas deeper than this get no example: recursive models end here
_BY_FORMAT = {
    "date-time": "2024-01-15T10:30:00Z",
    "date": "2024-01-15",
    "uri": "https://example.com",
}
_BY_TYPE: dict[str, Any] = {"string": "string", "integer": 0, "number": 0, "boolean": True}


def collection(document: dict[str, Any]) -> dict[str, Any]:
    schemas = document.get("components", {}).get("schemas", {})
    folders: dict[str, list[dict[str, Any]]] = {}
    for path, item in document.get("paths", {}).items():
        for method in _METHODS:
            operation = item.get(method)
            if isinstance(operation, dict):
                tag = (operation.get("tags") or ["default"])[0]
                folders.setdefault(tag, []).append(_item(path, method, operation, schemas))
    info = document.get("info", {})
    return {
        "info": {
            "name": info.get("title", "API"),
            "description": info.get("description", ""),
            "version": info.get("version", ""),
            "schema": SCHEMA_URL,
        },
        "item": [{"name": tag, "item": items} for tag, items in folders.items()],
        "auth": _bearer(),
        "variable": [
            {"key": "baseUrl", "value": DEFAULT_BASE_URL, "type": "string"},
            {"key": "bearerToken", "value": "", "type": "string"},
        ],
    }


def _bearer() -> dict[str, Any]:
    return {
        "type": "bearer",
        "bearer": [{"key": "token", "value": "{{bearerToken}}", "type": "string"}],
    }


def _item(
    path: str, method: str, operation: dict[str, Any], schemas: dict[str, Any]
) -> dict[str, Any]:
    parameters = [p for p in operation.get("parameters", []) if isinstance(p, dict)]
    segments = [re.sub(r"^\{(.+)\}$", r":\1", part) for part in path.strip("/").split("/")]
    query = [
        {
            "key": p["name"],
            "value": _text(_example(p, schemas)),
            "description": p.get("description", ""),
            "disabled": not p.get("required", False),
        }
        for p in parameters
        if p.get("in") == "query"
    ]
    url: dict[str, Any] = {
        "raw": "{{baseUrl}}/" + "/".join(segments) + _raw_query(query),
        "host": ["{{baseUrl}}"],
        "path": segments,
        "query": query,
        "variable": [
            {
                "key": p["name"],
                "value": _text(_example(p, schemas)),
                "description": p.get("description", ""),
            }
            for p in parameters
            if p.get("in") == "path"
        ],
    }
    request: dict[str, Any] = {
        "method": method.upper(),
        "header": [{"key": "Accept", "value": vendor_media_type(CURRENT_VERSION)}],
        "url": url,
        "description": operation.get("description") or operation.get("summary", ""),
    }
    body = _body(operation.get("requestBody"), schemas)
    if body is not None:
        request["body"] = body
        if body["mode"] == "raw":
            request["header"].append({"key": "Content-Type", "value": "application/json"})
    if not operation.get("security"):
        request["auth"] = {"type": "noauth"}
    name = operation.get("summary") or f"{method.upper()} {path}"
    return {"name": name, "request": request, "response": []}


def _raw_query(query: list[dict[str, Any]]) -> str:
    enabled = [f"{q['key']}={q['value']}" for q in query if not q["disabled"]]
    return "?" + "&".join(enabled) if enabled else ""


def _body(request_body: Any, schemas: dict[str, Any]) -> dict[str, Any] | None:
    if not isinstance(request_body, dict):
        return None
    content = request_body.get("content", {})
    if "application/json" in content:
        media = content["application/json"]
        example = media.get("example", _example(media, schemas))
        return {
            "mode": "raw",
            "raw": json.dumps(example, indent=2),
            "options": {"raw": {"language": "json"}},
        }
    for media_type, media in content.items():
        if media_type.startswith("multipart/") or media_type.endswith("x-www-form-urlencoded"):
            fields = _resolve(media.get("schema", {}), schemas).get("properties", {})
            mode = "formdata" if media_type.startswith("multipart/") else "urlencoded"
            return {mode: [{"key": k, "value": "", "type": "text"} for k in fields], "mode": mode}
    return None


def _example(holder: dict[str, Any], schemas: dict[str, Any]) -> Any:
    """The example of a parameter or media object: its own, else its schema's."""
    if "example" in holder:
        return holder["example"]
    return _schema_example(holder.get("schema", {}), schemas, 0)


def _schema_example(schema: Any, schemas: dict[str, Any], depth: int) -> Any:
    schema = _resolve(schema, schemas)
    if not isinstance(schema, dict) or depth > _DEPTH:
        return None
    for key in ("example", "default", "const"):
        if key in schema:
            return schema[key]
    if schema.get("examples"):
        return schema["examples"][0]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        options = [o for o in schema.get(key, []) if _resolve(o, schemas).get("type") != "null"]
        if options:
            return _schema_example(options[0], schemas, depth + 1)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {
            name: _schema_example(sub, schemas, depth + 1)
            for name, sub in schema.get("properties", {}).items()
            if name in schema.get("required", []) or _has_example(sub, schemas)
        }
    if kind == "array":
        return [_schema_example(schema.get("items", {}), schemas, depth + 1)]
    return _BY_FORMAT.get(schema.get("format", ""), _BY_TYPE.get(str(kind)))


def _has_example(schema: Any, schemas: dict[str, Any]) -> bool:
    resolved = _resolve(schema, schemas)
    return isinstance(resolved, dict) and bool({"example", "examples"} & resolved.keys())


def _resolve(schema: Any, schemas: dict[str, Any]) -> Any:
    while isinstance(schema, dict) and str(schema.get("$ref", "")).startswith(_REF):
        schema = schemas.get(schema["$ref"][len(_REF) :], {})
    return schema


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)
