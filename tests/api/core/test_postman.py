"""`GET /api/kubeedge/postman.json`: a Postman v2.1 collection of every OpenAPI operation.

The collection is validated against Postman's own v2.1.0 JSON schema (draft-04). That
schema is third-party data, so it is not in this repository: it sits beside the contract
documents in the shared folder (`shared/postman/collection-v2.1.0.json`, its source in
`SOURCE.md` there), or wherever `EDGEWRIGHT_POSTMAN_SCHEMA` points. Without it only that
one test is skipped; the others check the collection's shape themselves.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft4Validator

_REPO = Path(__file__).resolve().parents[3]
_CANDIDATES = [
    Path(os.environ.get("EDGEWRIGHT_POSTMAN_SCHEMA", "/nonexistent")),
    _REPO.parent / "shared" / "postman" / "collection-v2.1.0.json",
    Path("/work/shared/postman/collection-v2.1.0.json"),
]
SCHEMA = next((path for path in _CANDIDATES if path.is_file()), None)


@pytest.fixture
async def collection(client: httpx.AsyncClient) -> dict[str, Any]:
    answer = await client.get("/api/kubeedge/postman.json")  # public, like the OpenAPI
    assert answer.status_code == 200
    return dict(answer.json())


@pytest.fixture
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    return dict((await client.get("/openapi.json")).json())


def requests_of(collection: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(folder["name"], item) for folder in collection["item"] for item in folder["item"]]


@pytest.mark.skipif(SCHEMA is None, reason="Postman's collection schema is not on this machine")
def test_valid_against_the_postman_v2_1_schema(collection: dict[str, Any]) -> None:
    assert SCHEMA is not None
    schema = json.loads(SCHEMA.read_text())
    Draft4Validator.check_schema(schema)
    errors = [
        f"{list(error.absolute_path)}: {error.message[:200]}"
        for error in Draft4Validator(schema).iter_errors(collection)
    ]
    assert errors == []
    # The schema does catch a broken collection, so the empty list above means something.
    broken = json.loads(json.dumps(collection))
    broken["item"][0]["item"][0]["request"]["url"]["variable"] = "not a list"
    assert list(Draft4Validator(schema).iter_errors(broken))


def test_one_request_per_operation_in_its_tags_folder(
    collection: dict[str, Any], document: dict[str, Any]
) -> None:
    wanted = {
        (method.upper(), path, (operation.get("tags") or ["default"])[0])
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }
    found = [
        (
            item["request"]["method"],
            "/" + "/".join(re.sub(r"^:(.+)$", r"{\1}", p) for p in item["request"]["url"]["path"]),
            folder,
        )
        for folder, item in requests_of(collection)
    ]
    assert len(found) == len(set(found))
    assert set(found) == wanted


def test_variables_and_bearer_auth(collection: dict[str, Any]) -> None:
    assert collection["info"]["schema"].endswith("/v2.1.0/collection.json")
    assert {v["key"] for v in collection["variable"]} == {"baseUrl", "bearerToken"}
    assert collection["auth"] == {
        "type": "bearer",
        "bearer": [{"key": "token", "value": "{{bearerToken}}", "type": "string"}],
    }
    by_url = {
        (i["request"]["method"], i["request"]["url"]["raw"]): i for _, i in requests_of(collection)
    }
    assert all(raw.startswith("{{baseUrl}}/") for _, raw in by_url)
    # What needs no credentials says so; everything else inherits the bearer token.
    assert by_url[("POST", "{{baseUrl}}/api/auth/login")]["request"]["auth"] == {"type": "noauth"}
    assert "auth" not in by_url[("GET", "{{baseUrl}}/api/kubeedge/devices")]["request"]


def test_bodies_and_path_variables_come_from_the_schema(collection: dict[str, Any]) -> None:
    by_url = {
        (i["request"]["method"], i["request"]["url"]["raw"]): i for _, i in requests_of(collection)
    }
    webhook = by_url[("POST", "{{baseUrl}}/api/kubeedge/webhooks")]["request"]
    body = json.loads(webhook["body"]["raw"])
    assert body["events"] == ["device_joined", "device_left", "alert"]  # the schema's example
    assert {"key": "Content-Type", "value": "application/json"} in webhook["header"]
    command = by_url[("POST", "{{baseUrl}}/api/kubeedge/device/:device_id/command")]["request"]
    assert [v["key"] for v in command["url"]["variable"]] == ["device_id"]
    assert set(json.loads(command["body"]["raw"])) >= {"command"}
    assert {"key": "Accept", "value": "application/vnd.kubeedge.v1+json"} in command["header"]
