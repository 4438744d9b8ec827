"""Deprecated routes (api.core.deprecation): headers on every answer, `deprecated` in the OpenAPI.

Production deprecates nothing (neither document names a route of ours), so these tests
register a real route in a registry of their own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from api.core.deprecation import DEPRECATED, Deprecation, http_date
from api.main import create_app
from store.access.users import Role
from store.settings import Settings
from tests.api.helpers import bearer

SUNSET = datetime(2027, 6, 30, tzinfo=UTC)
DEVICES = Deprecation(
    method="GET", path="/api/kubeedge/devices", sunset=SUNSET, successor="/api/v2/kubeedge/devices"
)


@pytest.fixture
async def deprecating(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    application = create_app(settings, deprecations=(DEVICES,))
    transport = httpx.ASGITransport(app=application)
    async with (
        application.router.lifespan_context(application),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        yield client


def announced(answer: httpx.Response) -> bool:
    links = answer.headers.get_list("link")
    return (
        answer.headers.get("deprecation") == "true"
        and answer.headers.get("sunset") == "Wed, 30 Jun 2027 00:00:00 GMT"
        and answer.headers.get("alternate") == "/api/v2/kubeedge/devices"
        and '</api/v2/kubeedge/devices>; rel="successor-version"' in links
    )


async def test_a_deprecated_route_says_so_on_every_answer(
    deprecating: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    viewer = bearer(tokens[Role.VIEWER])
    ok = await deprecating.get("/api/kubeedge/devices", headers=viewer)
    refused = await deprecating.get("/api/kubeedge/devices")
    assert (ok.status_code, refused.status_code) == (200, 401)
    assert announced(ok)
    assert announced(refused)
    # Its neighbours are not deprecated, nor another method on the same path.
    other = await deprecating.get("/api/kubeedge/device/nobody", headers=viewer)
    assert other.status_code == 404
    assert "deprecation" not in other.headers


async def test_the_list_keeps_its_own_link(
    deprecating: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    answer = await deprecating.get(
        "/api/kubeedge/devices?page=1&limit=1", headers=bearer(tokens[Role.VIEWER])
    )
    assert answer.status_code == 200
    assert announced(answer)


async def test_the_openapi_marks_it_deprecated(deprecating: httpx.AsyncClient) -> None:
    document = (await deprecating.get("/openapi.json")).json()
    operation = document["paths"]["/api/kubeedge/devices"]["get"]
    assert operation["deprecated"] is True
    assert "/api/v2/kubeedge/devices" in operation["description"]
    for response in operation["responses"].values():
        assert {"Deprecation", "Sunset", "Alternate", "Link"} <= response["headers"].keys()
    assert "deprecated" not in document["paths"]["/api/kubeedge/device/{device_id}"]["get"]
    assert document["components"]["headers"]["Sunset"]["required"] is True


def test_a_registry_entry_must_name_a_route() -> None:
    ghost = Deprecation(method="GET", path="/api/kubeedge/ghosts", sunset=SUNSET, successor="/x")
    with pytest.raises(ValueError, match="no route GET /api/kubeedge/ghosts"):
        create_app(deprecations=(ghost,))


async def test_production_deprecates_only_what_the_registry_names(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/openapi.json")).json()
    flagged = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if operation.get("deprecated")
    }
    assert flagged == {(entry.method, entry.path) for entry in DEPRECATED}


def test_sunset_is_an_http_date() -> None:
    assert http_date(datetime(2025, 1, 15, tzinfo=UTC)) == "Wed, 15 Jan 2025 00:00:00 GMT"
    with pytest.raises(ValueError, match="timezone"):
        http_date(datetime(2025, 1, 15))  # naive: refused
