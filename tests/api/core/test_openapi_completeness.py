"""Every operation documents what it can answer (api.core.openapi, api.core.route_facts).

The invariants are read from the document itself (its security, methods and parameters),
not from the derivation, so a route whose dependencies are not marked shows up here.
The served answers are checked against the document by the fuzz in tests/e2e/faults.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import pytest
from fastapi import APIRouter

from api.core.deps import CurrentUser, OperatorUser
from api.core.envelopes import Contract, contract_for_path, error_code
from api.maintenance.gate import WRITES, exempt

V1 = "application/vnd.kubeedge.v1+json"
HEALTH = {"/api/health", "/api/v1/health"}  # their 503 is the health report, not an error
late = APIRouter()


@late.post("/api/kubeedge/_late/{thing_id}")
async def added_later(thing_id: str, _user: OperatorUser) -> dict[str, str]:
    return {"thing_id": thing_id}


@late.get("/api/v1/_late")
async def read_later(_user: CurrentUser) -> dict[str, str]:
    return {}


@pytest.fixture
def extra_routers() -> Sequence[APIRouter]:
    return (late,)


@pytest.fixture
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    return dict((await client.get("/openapi.json")).json())


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def uses(operation: dict[str, Any], scheme: str) -> bool:
    return any(scheme in requirement for requirement in operation.get("security", []))


def test_route_facts_are_documented(document: dict[str, Any]) -> None:
    missing: list[str] = []
    for method, path, operation in operations(document):
        wanted = {"406"}
        if uses(operation, "BearerToken") or uses(operation, "ApiKey"):
            wanted |= {"401", "429"}
        if method in WRITES and not exempt(method, re.sub(r"\{[^}]+\}", "x", path)):
            wanted.add("503")  # the maintenance gate refuses it
        if any(p["in"] == "query" or p["in"] == "path" for p in operation.get("parameters", [])):
            wanted.add("400")
        if "requestBody" in operation:
            wanted |= {"400", "413"}
        if "{" in path and not path.endswith(("/schedules/{schedule_id}", "/rules/{name}")):
            wanted.add("404")  # those two PUTs create what they name
        if lacking := wanted - operation["responses"].keys():
            missing.append(f"{method} {path}: {sorted(lacking)}")
    assert missing == []


def test_every_response_has_the_envelope_an_example_and_the_version(
    document: dict[str, Any],
) -> None:
    problems: list[str] = []
    for method, path, operation in operations(document):
        contract = contract_for_path(path)
        envelope = "EdgeError" if contract is Contract.EDGE else "CloudCoreError"
        for code, response in operation["responses"].items():
            where = f"{method} {path} {code}"
            if response["headers"].get("API-Version") != {
                "$ref": "#/components/headers/API-Version"
            }:
                problems.append(f"{where}: no API-Version header")
            content = response.get("content", {})
            if "application/json" in content and V1 not in content:
                problems.append(f"{where}: no {V1}")
            if int(code) < 400 or path in HEALTH:
                continue
            media = content.get("application/json", {})
            if not media.get("schema", {}).get("$ref", "").endswith("/" + envelope):
                problems.append(f"{where}: not the {envelope} envelope")
            if media.get("example", {}).get("code") != error_code(
                contract=contract, status_code=int(code)
            ):
                problems.append(f"{where}: no example in the envelope")
    assert problems == []


def test_examples_are_the_documents_words(document: dict[str, Any]) -> None:
    cloudcore = document["paths"]["/api/kubeedge/device/{device_id}"]["get"]["responses"]
    assert cloudcore["404"]["content"]["application/json"]["example"] == {
        "status": "error",
        "code": "API-004",
        "message": "Resource not found",
        "details": {},
    }
    edge = document["paths"]["/api/v1/nodes"]["post"]["responses"]
    assert edge["400"]["content"]["application/json"]["example"]["details"] == {
        "field": "Additional error details"
    }
    limited = edge["429"]["headers"]
    assert {"Retry-After", "X-RateLimit-Limit", "X-RateLimit-Reset"} <= limited.keys()
    refused = edge["406"]["content"]["application/json"]["example"]["details"]
    assert refused["supported_versions"] == ["v1"]


def test_route_specific_statuses_stay(document: dict[str, Any]) -> None:
    join = document["paths"]["/api/kubeedge/device/join"]["post"]["responses"]
    assert {"200", "202", "409"} <= join.keys()
    command = document["paths"]["/api/kubeedge/device/{device_id}/command"]["post"]["responses"]
    assert "502" in command


def test_a_route_added_later_is_covered(document: dict[str, Any]) -> None:
    write = document["paths"]["/api/kubeedge/_late/{thing_id}"]["post"]["responses"]
    assert {"401", "403", "404", "406", "429", "503"} <= write.keys()
    read = document["paths"]["/api/v1/_late"]["get"]["responses"]
    # Authentication reads the store, and a store that is busy or down is a 503.
    assert {"401", "406", "429", "503"} <= read.keys()
    assert not {"403", "404"} & read.keys()
    assert read["401"]["content"]["application/json"]["example"]["code"] == "UNAUTHORIZED"


async def test_the_document_does_not_grow_on_each_call(client: httpx.AsyncClient) -> None:
    first = (await client.get("/openapi.json")).json()
    assert (await client.get("/api/kubeedge/openapi.json")).json() == first
