from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from api.core.state import app_sessions
from api.main import create_app
from store.access.users import Role
from store.health import record_health
from store.models import ComponentHealth
from tests.api.helpers import bearer, make_settings

COMPONENTS = {"kubernetes", "cloudcore", "database", "temporal", "mqtt"}


async def report(app: FastAPI, *, name: str, status: str, mode: str | None, detail: str) -> None:
    async with app_sessions(app)() as session, session.begin():
        await record_health(session, name=name, status=status, mode=mode, detail=detail)


async def age(app: FastAPI, *, name: str, seconds: float) -> None:
    checked_at = datetime.now(UTC) - timedelta(seconds=seconds)
    async with app_sessions(app)() as session, session.begin():
        await session.execute(
            update(ComponentHealth)
            .where(ComponentHealth.name == name)
            .values(checked_at=checked_at)
        )


@pytest.fixture
def viewer(tokens: dict[Role, str]) -> dict[str, str]:
    return bearer(tokens[Role.VIEWER])


async def test_cloudcore_health_without_worker_reports(
    client: httpx.AsyncClient, viewer: dict[str, str]
) -> None:
    response = await client.get("/api/health", headers=viewer)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"status", "timestamp", "version", "components", "details"}
    assert body["status"] == "degraded"
    assert body["version"]
    datetime.fromisoformat(body["timestamp"])
    assert body["components"] == {
        "kubernetes": "unknown",
        "cloudcore": "unknown",
        "database": "connected",
        "temporal": "disconnected",
        "mqtt": "unknown",
    }
    assert set(body["details"]) == COMPONENTS
    for detail in body["details"].values():
        assert set(detail) == {"status", "mode", "detail", "checked_at"}
    assert response.headers["cache-control"] == "no-store"


async def test_sandbox_is_visible(
    app: FastAPI, client: httpx.AsyncClient, viewer: dict[str, str]
) -> None:
    await report(
        app, name="kubernetes", status="connected", mode="sandbox", detail="kmock emulator"
    )
    await report(app, name="mqtt", status="connected", mode=None, detail="127.0.0.1:1883")

    body = (await client.get("/api/health", headers=viewer)).json()

    assert body["components"]["kubernetes"] == "connected"
    assert body["components"]["mqtt"] == "connected"
    assert body["details"]["kubernetes"]["mode"] == "sandbox"
    assert body["details"]["kubernetes"]["detail"] == "kmock emulator"
    # The worker read nothing of CloudCore yet: we do not pretend it runs.
    assert body["components"]["cloudcore"] == "unknown"
    # Temporal is still unreachable in these tests.
    assert body["status"] == "degraded"


async def test_cloudcore_is_what_the_worker_read_of_its_deployment(
    app: FastAPI, client: httpx.AsyncClient, viewer: dict[str, str]
) -> None:
    # The Kubernetes detail no longer matters: CloudCore has a row of its own.
    await report(app, name="kubernetes", status="connected", mode="cluster", detail="v1.33")
    detail = "Deployment kubeedge/cloudcore: 1 of 1 replicas available"
    await report(app, name="cloudcore", status="running", mode="cluster", detail=detail)

    body = (await client.get("/api/health", headers=viewer)).json()

    assert body["components"]["cloudcore"] == "running"
    assert body["details"]["cloudcore"]["detail"] == detail
    assert body["details"]["cloudcore"]["mode"] == "cluster"


async def test_stale_row_means_unknown(
    app: FastAPI, client: httpx.AsyncClient, viewer: dict[str, str]
) -> None:
    await report(app, name="kubernetes", status="connected", mode="sandbox", detail="up")
    await report(app, name="cloudcore", status="running", mode="sandbox", detail="1 of 1")
    await age(app, name="kubernetes", seconds=61)
    await age(app, name="cloudcore", seconds=61)

    body = (await client.get("/api/health", headers=viewer)).json()

    assert body["components"]["kubernetes"] == "unknown"
    assert body["components"]["cloudcore"] == "unknown"
    kubernetes = body["details"]["kubernetes"]
    assert kubernetes["status"] == "unknown"
    assert kubernetes["mode"] == "sandbox"  # still says what it was last seen as
    assert "last reported" in kubernetes["detail"]


async def test_edge_health_shape(app: FastAPI, client: httpx.AsyncClient) -> None:
    await report(app, name="kubernetes", status="connected", mode="sandbox", detail="emulator")

    response = await client.get("/api/v1/health")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"status", "version", "timestamp", "components"}
    assert body["status"] == "degraded"
    assert set(body["components"]) == COMPONENTS
    assert body["components"]["kubernetes"] == "connected"
    assert body["components"]["temporal"] == "disconnected"


SECRETS = ("/home/ops/.kube/config", "10.0.0.7:6443", "v1.33.2", "broker.internal:1883")


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-token"}, {"X-API-Key": "ewk_nope_nope"}],
    ids=["none", "bad-token", "bad-key"],
)
@pytest.mark.parametrize("path", ["/api/health", "/api/v1/health"])
async def test_anonymous_callers_see_only_states(
    app: FastAPI, client: httpx.AsyncClient, path: str, headers: dict[str, str]
) -> None:
    kube = "kubeconfig /home/ops/.kube/config; server 10.0.0.7:6443 v1.33.2"
    await report(app, name="kubernetes", status="connected", mode="cluster", detail=kube)
    cloudcore = "Deployment kubeedge/cloudcore: 0 of 1 replicas available, image v1.33.2"
    await report(app, name="cloudcore", status="pending", mode="cluster", detail=cloudcore)
    await report(app, name="mqtt", status="connected", mode=None, detail="broker.internal:1883")

    response = await client.get(path, headers=headers)

    assert response.status_code == 200
    for secret in SECRETS:
        assert secret not in response.text
    body = response.json()
    assert body["components"]["kubernetes"] == "connected"
    assert body["components"]["cloudcore"] == "pending"  # our word: fit for anyone
    assert body.get("details", {}) == {}


async def test_words_we_did_not_choose_show_anonymous_callers_as_reported(
    app: FastAPI, client: httpx.AsyncClient, viewer: dict[str, str]
) -> None:
    await report(app, name="cloudcore", status="server 10.0.0.7 says hi", mode=None, detail="")

    anonymous = (await client.get("/api/v1/health")).json()
    known = (await client.get("/api/v1/health", headers=viewer)).json()

    assert anonymous["components"]["cloudcore"] == "reported"
    assert known["components"]["cloudcore"] == "server 10.0.0.7 says hi"


@pytest.fixture
async def app_without_database(tmp_path: Path) -> AsyncIterator[FastAPI]:
    missing = tmp_path / "no" / "such" / "dir" / "edgewright.db"
    settings = make_settings(tmp_path, database_url=f"sqlite+aiosqlite:///{missing}")
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.mark.parametrize("path", ["/api/health", "/api/v1/health"])
async def test_database_down_is_503_unhealthy(app_without_database: FastAPI, path: str) -> None:
    transport = httpx.ASGITransport(app=app_without_database)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get(path)

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["components"]["database"] == "disconnected"
    assert body["components"]["kubernetes"] == "unknown"
