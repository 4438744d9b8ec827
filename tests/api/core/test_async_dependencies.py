"""Every route and dependency is a coroutine: FastAPI runs a plain function in its thread
pool, a thread handoff per call that showed in the device page's profile."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from api.core.route_facts import api_routes
from api.main import create_app
from tests.api.helpers import make_settings


def _is_coroutine(call: Any) -> bool:
    function = call if inspect.isfunction(call) or inspect.ismethod(call) else call.__call__
    return inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function)


def _plain(dependant: Dependant) -> set[str]:
    found: set[str] = set()
    for sub in dependant.dependencies:
        if sub.call is not None and not _is_coroutine(sub.call):
            found.add(getattr(sub.call, "__qualname__", repr(sub.call)))
        found |= _plain(sub)
    return found


def test_no_route_or_dependency_runs_in_the_thread_pool(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path))
    plain: set[str] = set()
    routes = [
        context.original_route
        for context in api_routes(app.routes)
        if isinstance(context.original_route, APIRoute)  # all are
    ]
    assert routes
    for route in routes:
        if not _is_coroutine(route.endpoint):
            plain.add(f"{route.path} (endpoint)")
        plain |= _plain(route.dependant)
    assert plain == set()
