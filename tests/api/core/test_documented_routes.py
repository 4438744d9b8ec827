"""Every endpoint the two documents list has a route, or is named here as not built yet.

The not-built ones are strict xfails: once the route exists the test passes, which
strict turns into a failure, so whoever builds it un-marks it here and its examples join
the replay in tests/e2e/contract/test_document_examples.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from starlette.routing import Match

from api.main import create_app
from tests.api.helpers import make_settings
from tests.support.seed_examples import (
    cloudcore_endpoints,
    cloudcore_examples,
    edge_examples,
    not_built,
)


def documented() -> list[tuple[str, str]]:
    found = set(cloudcore_endpoints())
    found |= {(e.method, e.path) for e in cloudcore_examples() + edge_examples()}
    return sorted(found)


def _params() -> list[Any]:
    return [
        pytest.param(
            method,
            path,
            id=f"{method} {path}",
            marks=[pytest.mark.xfail(strict=True, reason=f"not built yet: {not_built(path)}")]
            if not_built(path)
            else [],
        )
        for method, path in documented()
    ]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    """Routes only: nothing is started, so this stays cheap for every endpoint."""
    return create_app(make_settings(tmp_path_factory.mktemp("routes")))


def has_route(app: FastAPI, method: str, path: str) -> bool:
    scope = {"type": "http", "method": method, "path": path, "root_path": ""}
    return any(route.matches(scope)[0] == Match.FULL for route in app.router.routes)


@pytest.mark.parametrize(("method", "path"), _params())
def test_documented_endpoint_has_a_route(app: FastAPI, method: str, path: str) -> None:
    concrete = path.replace("{", "").replace("}", "")  # any value for a path parameter
    assert has_route(app, method, concrete)


def test_every_example_of_both_documents_is_read() -> None:
    """The parser misses nothing: a regression here would silently shrink the replay."""
    cloudcore, edge = cloudcore_examples(), edge_examples()
    assert len(cloudcore) == 29  # every curl in the document
    assert len(edge) == 18  # every fenced METHOD /path
    command = next(e for e in cloudcore if e.path.endswith("/command") and e.response)
    assert command.body["timeout"] == 30
    assert command.response["expected_response_timeout"] == 30
    assert command.headers["Authorization"] == "Bearer <token>"
    node = next(e for e in edge if e.method == "POST" and e.path == "/api/v1/nodes")
    assert node.body["name"] == "edge-node-1"
    assert node.response["status"] == "registered"
    assert sum(e.response is not None for e in cloudcore + edge) == 36
