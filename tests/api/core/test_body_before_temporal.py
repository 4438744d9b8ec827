"""With Temporal unreachable, a bad body on a route that starts workflows is still a 400.

FastAPI resolves dependencies before it reports a bad body, so a route that took the
Temporal client as a dependency answered 503 to a request that could never succeed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from api.core import deps
from api.main import create_app
from store.access.users import Role
from tests.api.helpers import bearer

# Read their body themselves (JSON, YAML, CSV, upload), so FastAPI sees none.
READS_OWN_BODY = {("POST", "/api/kubeedge/batch-join")}


def _routes(routes: Any) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            if route.include_in_schema:
                yield route
        elif hasattr(route, "original_router"):  # FastAPI's included routers
            yield from _routes(route.original_router.routes)


def _calls(dependant: Dependant) -> Iterator[Any]:
    yield dependant.call
    for sub in dependant.dependencies:
        yield from _calls(sub)


def _full_path(app: FastAPI, route: APIRoute) -> str:
    # Included routes keep their own path; find the mounted one by the endpoint.
    for path, operations in app.openapi()["paths"].items():
        for operation in operations.values():
            if operation.get("operationId") == route.unique_id:
                return str(path)
    raise AssertionError(f"{route.unique_id} is not in the OpenAPI document")


def _with_body() -> list[tuple[str, str]]:
    app = create_app()
    found = []
    for route in _routes(app.routes):
        for method in route.methods or ():
            key = (method, _full_path(app, route))
            if route.dependant.body_params or key in READS_OWN_BODY:
                found.append(key)
    return sorted(found)


def _temporal_first() -> list[tuple[str, str]]:
    app = create_app()
    return sorted(
        (method, _full_path(app, route))
        for route in _routes(app.routes)
        for method in route.methods or ()
        if deps._temporal in _calls(route.dependant)
    )


def test_no_route_with_a_body_resolves_temporal_first() -> None:
    clash = set(_with_body()) & set(_temporal_first())
    assert not clash, sorted(clash)


STARTERS = [
    ("POST", "/api/kubeedge/device/join"),
    ("POST", "/api/kubeedge/batch-join"),
    ("POST", "/api/kubeedge/token/generate"),
    ("POST", "/api/kubeedge/cloudcore/deploy"),
    ("POST", "/api/kubeedge/command/broadcast"),
    ("POST", "/api/kubeedge/command/jobs"),
    ("POST", "/api/kubeedge/device/{device_id}/command"),
    ("POST", "/api/kubeedge/test/connection"),
    ("POST", "/api/kubeedge/apps/deploy"),
    ("POST", "/api/v1/workloads/{workload_id}/deploy"),
    ("POST", "/api/kubeedge/backup"),
    ("POST", "/api/kubeedge/restore"),
    ("POST", "/api/kubeedge/security/certificates/renew"),
]


def test_every_workflow_starter_with_a_body_is_tested() -> None:
    assert set(_with_body()) >= set(STARTERS)
    assert not set(_temporal_first()) & set(_with_body())


@pytest.mark.parametrize(("method", "path"), STARTERS)
async def test_bad_body_is_400_while_temporal_is_down(
    client: httpx.AsyncClient, tokens: dict[Role, str], method: str, path: str
) -> None:
    url = re.sub(r"\{[^}]+\}", "probe-1", path)
    # Well-formed JSON of the wrong shape: only validation can refuse it.
    response = await client.request(method, url, json=[1, 2], headers=bearer(tokens[Role.ADMIN]))

    assert response.status_code == 400, response.text
