from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from collections.abc import Awaitable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import cast

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from temporalio.client import Client

import api.main
from adapters.temporal import Backoff, OnFailure, retry_connect
from api.core.deps import TemporalDep
from api.core.links import temporal_ui_link
from api.core.route_facts import api_routes
from api.core.state import app_state, set_app_state
from api.core.temporal import TemporalConnector
from api.join import routes as kubeedge_devices
from api.main import create_app
from store.access.users import Role
from store.settings import Settings
from tests.api.helpers import bearer, make_settings

PUBLIC = {
    "/api/health",
    "/api/v1/health",
    "/api/auth/login",
    "/api/kubeedge/openapi.json",
    "/api/kubeedge/swagger-ui",
    "/api/kubeedge/postman.json",
}

probe = APIRouter()


@probe.get("/api/v1/_probe/temporal")
async def temporal_namespace(client: TemporalDep) -> dict[str, str]:
    return {"namespace": client.namespace}


@pytest.fixture
def extra_routers() -> Sequence[APIRouter]:
    return (probe,)


def test_importing_builds_no_state() -> None:
    with pytest.raises(RuntimeError, match="lifespan"):
        app_state(api.main.app)


async def test_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    application = create_app(make_settings(tmp_path, secret_key=None))
    with pytest.raises(RuntimeError, match="EDGEWRIGHT_SECRET_KEY"):
        async with application.router.lifespan_context(application):
            pass


@pytest.mark.parametrize("arenas", [0, 3])
async def test_the_api_caps_malloc_arenas_before_its_threads_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, arenas: int
) -> None:
    capped: list[int] = []
    monkeypatch.setattr(api.main, "limit_malloc_arenas", capped.append)
    # Refused right after (no secret key): the cap comes first, before anything starts.
    application = create_app(make_settings(tmp_path, secret_key=None, api_malloc_arena_max=arenas))
    with pytest.raises(RuntimeError, match="EDGEWRIGHT_SECRET_KEY"):
        async with application.router.lifespan_context(application):
            pass
    assert capped == [arenas]


async def test_openapi_documents_400_not_422(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()

    assert '"422"' not in str(document).replace("'", '"')
    assert "HTTPValidationError" not in document["components"]["schemas"]
    login = document["paths"]["/api/auth/login"]["post"]["responses"]
    assert login["400"]["content"]["application/json"]["schema"]["$ref"].endswith("/CloudCoreError")
    assert "EdgeError" in document["components"]["schemas"]


async def test_cloudcore_docs_urls(client: httpx.AsyncClient) -> None:
    mirrored = await client.get("/api/kubeedge/openapi.json")
    assert mirrored.status_code == 200
    assert mirrored.json() == (await client.get("/openapi.json")).json()

    swagger = await client.get("/api/kubeedge/swagger-ui")
    assert swagger.status_code == 200
    assert "/api/kubeedge/openapi.json" in swagger.text
    assert (await client.get("/docs")).status_code == 200


async def test_every_other_route_needs_a_token(app: FastAPI, client: httpx.AsyncClient) -> None:
    # Covers the device routes as they land: without a token, 401 comes first. Included
    # routers are not APIRoutes in app.routes; api_routes lists their routes as served.
    checked = 0
    for route in api_routes(app.routes):
        template = route.path_format or ""
        if template in PUBLIC or "/_probe/" in template:
            continue
        path = re.sub(r"\{[^}]+\}", "probe", template)
        checked += 1
        for method in route.methods or ():
            response = await client.request(method, path)
            assert response.status_code == 401, (method, template, response.text)
    assert checked > 50


async def test_device_routes_are_guarded_even_when_they_ask_for_nothing(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, tokens: dict[Role, str]
) -> None:
    careless = APIRouter()

    @careless.get("/api/kubeedge/_careless")
    async def open_door() -> dict[str, bool]:
        return {"ok": True}

    monkeypatch.setattr(kubeedge_devices, "router", careless)
    application = create_app(settings)
    transport = httpx.ASGITransport(app=application)
    async with (
        application.router.lifespan_context(application),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        assert (await client.get("/api/kubeedge/_careless")).status_code == 401
        allowed = await client.get("/api/kubeedge/_careless", headers=bearer(tokens[Role.VIEWER]))
        assert allowed.status_code == 200


def test_temporal_ui_link_quotes_the_workflow_id(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, temporal_ui_url="http://ui.example:8233/", temporal_namespace="edge fleet"
    )
    assert temporal_ui_link(settings, "device-join/cam-01") == (
        "http://ui.example:8233/namespaces/edge%20fleet/workflows/device-join%2Fcam-01"
    )


async def test_connector_keeps_trying_until_temporal_answers() -> None:
    attempts = 0
    connected = cast(Client, object())

    async def flaky_connect() -> Client:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise RuntimeError("connection refused")
        return connected

    def connect(*, on_failure: OnFailure) -> Awaitable[Client]:
        return retry_connect(
            flaky_connect,
            target="test",
            give_up_after=None,
            on_failure=on_failure,
            backoff=Backoff(initial=0.01, maximum=0.02),
        )

    connector = TemporalConnector(connect=connect)
    await connector.start(wait_first_attempt=1.0)
    try:
        async with asyncio.timeout(5):
            assert await connector.wait_connected() is connected
        assert connector.client is connected
        assert attempts == 3
    finally:
        await connector.stop()


async def test_temporal_dep_gives_the_client_once_connected(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    assert (await client.get("/api/v1/_probe/temporal")).status_code == 503

    class FakeClient:
        namespace = "default"

    async def connect(*, on_failure: OnFailure) -> Client:
        return cast(Client, FakeClient())

    connector = TemporalConnector(connect=connect)
    await connector.start()
    state = app_state(app)
    set_app_state(app, replace(state, temporal=connector))
    try:
        response = await client.get("/api/v1/_probe/temporal")
        assert response.status_code == 200
        assert response.json() == {"namespace": "default"}
    finally:
        await connector.stop()
        set_app_state(app, state)


def test_the_api_on_sqlite_imports_no_postgresql_dialect() -> None:
    # 2 MB of the API's memory budget (store.upsert.insert_for imports it when used).
    check = "import sys, api.main; print('sqlalchemy.dialects.postgresql' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr[-2000:]
