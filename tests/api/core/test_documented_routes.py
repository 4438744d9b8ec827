"""Every endpoint the two documents list has a route (their examples are replayed in
tests/e2e/contract/test_document_examples.py)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from starlette.routing import Match

from api.main import create_app
from tests.api.helpers import make_settings
from tests.support.document_examples import endpoints, examples


def documented() -> list[tuple[str, str]]:
    found = {(e.method, e.path) for e in endpoints()}
    found |= {(e.method, e.path) for e in examples()}
    return sorted(found)


def _params() -> list[Any]:
    return [pytest.param(method, path, id=f"{method} {path}") for method, path in documented()]


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
