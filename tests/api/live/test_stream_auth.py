"""Live streams re-check their caller: logout ends them, and each caller has a cap.

Served by uvicorn on a loopback port, so SSE and WebSocket stream for real.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
import websockets
from fastapi import FastAPI
from sqlalchemy import update

from api.core.principal import Principal, PrincipalKind
from api.live.auth import StreamGuard
from api.main import create_app
from store.access.users import Role
from store.db import create_engine, session_factory
from store.models import User
from store.settings import Settings
from tests.api.helpers import ApiUser, bearer, closed_port, make_settings
from tests.support.helpers import wait_for_port

STREAM = "/api/kubeedge/monitor/stream"


@pytest.fixture
def settings(tmp_path: Path, template_db: tuple[Path, list[ApiUser]]) -> Settings:
    shutil.copyfile(template_db[0], tmp_path / "edgewright.db")
    return make_settings(
        tmp_path,
        api_port=closed_port(),
        live_recheck_seconds=0.2,
        live_max_streams_per_caller=2,
        mqtt_port=closed_port(),
    )


@pytest.fixture
async def base_url(settings: Settings) -> AsyncIterator[str]:
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings),
            host="127.0.0.1",
            port=settings.api_port,
            log_level="warning",
            lifespan="on",
        )
    )
    serving = asyncio.create_task(server.serve())
    try:
        await wait_for_port("127.0.0.1", settings.api_port, within=60)
        yield f"http://127.0.0.1:{settings.api_port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 60)


async def _read_until_closed(response: httpx.Response) -> str:
    seen = ""
    async for chunk in response.aiter_text():
        seen += chunk
    return seen


async def test_logout_ends_an_open_sse_stream(base_url: str, tokens: dict[Role, str]) -> None:
    token = tokens[Role.VIEWER]
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=60) as http,
        http.stream("GET", STREAM, params={"token": token}) as response,
    ):
        assert response.status_code == 200
        reading = asyncio.create_task(_read_until_closed(response))
        logout = await http.post("/api/auth/logout", headers=bearer(token))
        assert logout.status_code == 200

        seen = await asyncio.wait_for(reading, 60)  # before: the stream never ended

    assert "event: revoked" in seen


async def test_logout_closes_an_open_websocket(base_url: str, tokens: dict[Role, str]) -> None:
    token = tokens[Role.VIEWER]
    ws_url = base_url.replace("http", "ws") + f"/ws?token={token}"
    async with websockets.connect(ws_url) as ws, httpx.AsyncClient(base_url=base_url) as http:
        assert "welcome" in str(await ws.recv())
        assert (await http.post("/api/auth/logout", headers=bearer(token))).status_code == 200

        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 60)  # before: no close came

    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008


async def test_streams_per_caller_are_capped(base_url: str, tokens: dict[Role, str]) -> None:
    headers = bearer(tokens[Role.OPERATOR])
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=60) as http,
        http.stream("GET", STREAM, headers=headers) as first,
        http.stream("GET", STREAM, headers=headers) as second,
    ):
        assert (first.status_code, second.status_code) == (200, 200)
        third = await http.get(STREAM, headers=headers)

        assert third.status_code == 429  # before: a third stream was served
        assert third.json()["code"] == "API-006"


async def test_a_stream_ends_at_token_expiry(app: FastAPI, tokens: dict[Role, str]) -> None:
    def guard(expires_at: datetime) -> StreamGuard:
        principal = Principal(
            kind=PrincipalKind.USER, id=1, username="u", role="viewer", expires_at=expires_at
        )
        return StreamGuard(app=app, principal=principal, bearer=tokens[Role.VIEWER], api_key=None)

    now = datetime.now(UTC)
    assert guard(now + timedelta(hours=1)).seconds_to_next_check() == pytest.approx(0.2)
    assert guard(now + timedelta(seconds=0.05)).seconds_to_next_check() <= 0.05
    assert not await guard(now - timedelta(seconds=1)).still_allowed()
    assert await guard(now + timedelta(hours=1)).still_allowed()


async def _refusals(http: httpx.AsyncClient, admin: str) -> list[dict[str, object]]:
    answer = await http.get(
        "/api/kubeedge/security/logs", params={"event": "token_refused"}, headers=bearer(admin)
    )
    assert answer.status_code == 200, answer.text
    logs: list[dict[str, object]] = answer.json()["logs"]
    return logs


async def test_a_websocket_handshake_names_the_api_version(
    base_url: str, tokens: dict[Role, str]
) -> None:
    ws_url = base_url.replace("http", "ws") + f"/ws?token={tokens[Role.VIEWER]}"
    async with websockets.connect(ws_url, open_timeout=60) as ws:
        assert ws.response is not None
        assert ws.response.headers["API-Version"] == "v1"


async def test_a_refused_websocket_credential_is_in_the_audit_log(
    base_url: str, tokens: dict[Role, str]
) -> None:
    ws_url = base_url.replace("http", "ws") + "/ws?token=not-a-jwt"
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(ws_url, open_timeout=60):
            pass
    assert refused.value.response.status_code == 403
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        logs = await _refusals(http, tokens[Role.ADMIN])

    assert [row["details"] for row in logs] == [{"reason": "Invalid token", "path": "/ws"}]
    assert logs[0]["source_ip"] == "127.0.0.1"


async def test_a_refused_sse_credential_is_in_the_audit_log(
    base_url: str, tokens: dict[Role, str]
) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        assert (await http.get(STREAM, params={"token": "not-a-jwt"})).status_code == 401
        assert (await http.get(STREAM)).status_code == 401  # no credentials: no refusal
        logs = await _refusals(http, tokens[Role.ADMIN])

    # One row: refusals are recorded once per address, reason and minute.
    assert [row["details"] for row in logs] == [{"reason": "Invalid token", "path": STREAM}]


async def test_a_role_that_may_not_watch_is_denied_on_the_websocket(
    settings: Settings, base_url: str, tokens: dict[Role, str], users: dict[Role, ApiUser]
) -> None:
    engine = create_engine(settings.sqlalchemy_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            await session.execute(
                update(User)
                .where(User.username == users[Role.VIEWER].username)
                .values(role="retired-role")
            )
    finally:
        await engine.dispose()
    ws_url = base_url.replace("http", "ws") + f"/ws?token={tokens[Role.VIEWER]}"
    with pytest.raises(websockets.InvalidStatus):
        async with websockets.connect(ws_url, open_timeout=60):
            pass
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        answer = await http.get(
            "/api/kubeedge/security/logs",
            params={"event": "access_denied"},
            headers=bearer(tokens[Role.ADMIN]),
        )
    denied = answer.json()["logs"]
    assert [row["target"] for row in denied] == ["WEBSOCKET /ws"]
    assert "may not watch" in denied[0]["details"]["reason"]
