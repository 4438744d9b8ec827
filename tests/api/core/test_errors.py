from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI, HTTPException
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from api.core.deps import SessionDep, TemporalDep
from api.core.errors import ApiError
from api.core.state import app_sessions
from store.access.users import Role, create_user
from store.models import User

probe = APIRouter()
Check = Callable[[int, str, httpx.Response], dict[str, Any]]
LEAK = "db password is swordfish"


class Widget(BaseModel):
    name: str = Field(min_length=1)
    replicas: int = Field(ge=1)
    ports: list[int] = Field(default_factory=list)


for _prefix in ("/api/v1", "/api/kubeedge"):

    @probe.post(f"{_prefix}/_probe/widgets")
    async def create_widget(widget: Widget) -> Widget:
        return widget

    @probe.get(f"{_prefix}/_probe/explode")
    async def explode() -> None:
        raise RuntimeError(LEAK)

    @probe.get(f"{_prefix}/_probe/conflict")
    async def conflict() -> None:
        raise ApiError(409, "Widget exists", details={"name": "w1"})

    @probe.get(f"{_prefix}/_probe/teapot")
    async def teapot() -> None:
        raise HTTPException(status_code=418, detail="short and stout")

    @probe.get(f"{_prefix}/_probe/temporal")
    async def needs_temporal(client: TemporalDep) -> dict[str, str]:
        return {"namespace": client.namespace}


@probe.post("/api/kubeedge/_probe/users/{username}")
async def add_user(username: str, session: SessionDep, fail: bool = False) -> dict[str, str]:
    await create_user(session, username=username, password="pw-for-test-only", role=Role.VIEWER)
    if fail:
        raise ApiError(409, "changed my mind")
    return {"username": username}


@pytest.fixture
def extra_routers() -> Sequence[APIRouter]:
    return (probe,)


def edge(status_code: int, code: str, response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == status_code, response.text
    body = response.json()
    assert set(body) == {"error", "code", "message", "details"}
    assert body["error"] is True
    assert body["code"] == code
    assert isinstance(body["message"], str)
    assert body["message"]
    assert isinstance(body["details"], dict)
    return body  # type: ignore[no-any-return]


def cloudcore(status_code: int, code: str, response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == status_code, response.text
    body = response.json()
    assert set(body) == {"status", "code", "message", "details"}
    assert body["status"] == "error"
    assert body["code"] == code
    assert isinstance(body["message"], str)
    assert body["message"]
    assert isinstance(body["details"], dict)
    return body  # type: ignore[no-any-return]


async def test_unknown_path_is_404_in_its_contract(client: httpx.AsyncClient) -> None:
    edge(404, "NOT_FOUND", await client.get("/api/v1/no-such-thing"))
    cloudcore(404, "API-004", await client.get("/api/kubeedge/no-such-thing"))
    cloudcore(404, "API-004", await client.get("/api/auth/no-such-thing"))
    cloudcore(404, "API-004", await client.get("/nowhere"))


async def test_wrong_method_is_405_with_allow(client: httpx.AsyncClient) -> None:
    response = await client.delete("/api/v1/health")
    edge(405, "METHOD_NOT_ALLOWED", response)
    assert response.headers["allow"] == "GET"

    response = await client.get("/api/auth/login")
    body = cloudcore(405, "API-001", response)
    assert "GET" in str(body["message"])
    assert response.headers["allow"] == "POST"


@pytest.mark.parametrize(
    ("prefix", "check", "code"),
    [("/api/v1", edge, "BAD_REQUEST"), ("/api/kubeedge", cloudcore, "API-001")],
)
async def test_validation_is_400_listing_every_field(
    client: httpx.AsyncClient, prefix: str, check: Check, code: str
) -> None:
    bad = {"name": "", "replicas": 0, "ports": [80, "http"]}
    body = check(400, code, await client.post(f"{prefix}/_probe/widgets", json=bad))
    assert set(body["details"]) == {"name", "replicas", "ports[1]"}

    missing = check(400, code, await client.post(f"{prefix}/_probe/widgets", json={}))
    assert set(missing["details"]) == {"name", "replicas"}


@pytest.mark.parametrize(
    ("prefix", "check", "code"),
    [("/api/v1", edge, "BAD_REQUEST"), ("/api/kubeedge", cloudcore, "API-001")],
)
async def test_malformed_json_is_400(
    client: httpx.AsyncClient, prefix: str, check: Check, code: str
) -> None:
    response = await client.post(
        f"{prefix}/_probe/widgets",
        content=b'{"name": "w", "replicas": ',
        headers={"Content-Type": "application/json"},
    )
    body = check(400, code, response)
    assert "JSON" in str(body["message"])
    assert "body" in body["details"]


async def test_unhandled_error_is_a_500_that_leaks_nothing(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="api.core.errors"):
        edge_response = await client.get("/api/v1/_probe/explode")
        cloudcore_response = await client.get("/api/kubeedge/_probe/explode")

    edge(500, "INTERNAL_ERROR", edge_response)
    cloudcore(500, "API-007", cloudcore_response)
    for response in (edge_response, cloudcore_response):
        assert "swordfish" not in response.text
        assert "RuntimeError" not in response.text
    logged = [r for r in caplog.records if r.exc_info and LEAK in str(r.exc_info[1])]
    assert len(logged) == 2  # with traceback, once per request


async def test_api_error_keeps_status_message_and_details(client: httpx.AsyncClient) -> None:
    body = edge(409, "CONFLICT", await client.get("/api/v1/_probe/conflict"))
    assert body["message"] == "Widget exists"
    assert body["details"] == {"name": "w1"}
    cloudcore(409, "API-005", await client.get("/api/kubeedge/_probe/conflict"))


async def test_statuses_outside_the_tables_fall_back_by_class(client: httpx.AsyncClient) -> None:
    body = edge(418, "BAD_REQUEST", await client.get("/api/v1/_probe/teapot"))
    assert body["message"] == "short and stout"
    cloudcore(418, "API-001", await client.get("/api/kubeedge/_probe/teapot"))


async def test_temporal_unreachable_is_503(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/_probe/temporal")
    edge(503, "SERVICE_UNAVAILABLE", response)
    assert response.headers["retry-after"] == "5"
    cloudcore(503, "API-009", await client.get("/api/kubeedge/_probe/temporal"))


async def test_session_commits_on_success_and_rolls_back_on_error(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    assert (await client.post("/api/kubeedge/_probe/users/kept")).status_code == 200
    refused = await client.post("/api/kubeedge/_probe/users/dropped", params={"fail": "true"})
    assert refused.status_code == 409

    async with app_sessions(app)() as session:
        names = set(await session.scalars(select(User.username)))
        assert "kept" in names
        assert "dropped" not in names
        assert await session.scalar(select(func.count()).select_from(User)) == len(Role) + 1
