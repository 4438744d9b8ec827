"""End to end: SSE and WebSocket clients see a device join (by the simulated edgecore) and a
command, over a real uvicorn server; and the edgecore token check refuses spent tokens."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import websockets
from sqlalchemy import update
from temporalio.testing import WorkflowEnvironment

from simulator.device import Timing
from simulator.edgecore import ApiAccess, ApiJoiner, NodeRegistry, token_of
from simulator.enroll import EdgecoreRole, JoinedDevices
from simulator.fleet import Fleet, FleetConfig
from store.devices import tokens
from store.models import JoinToken
from tests.e2e.command_stack import CommandStack, command_settings, running_command_stack
from tests.support.helpers import eventually
from tests.support.kube_fixtures import sandbox_api_client
from tests.support.mqtt_fixtures import Broker

Event = dict[str, Any]


@pytest.fixture
async def stack(
    dev_env: WorkflowEnvironment, kube_sandbox_url: str, mqtt_broker: Broker, tmp_path: Path
) -> AsyncIterator[CommandStack]:
    settings = command_settings(
        data_dir=tmp_path, temporal=dev_env.client, sandbox_url=kube_sandbox_url, broker=mqtt_broker
    )
    async with running_command_stack(settings, dev_env.client) as running:
        yield running


class Collected:
    def __init__(self) -> None:
        self.items: list[Event] = []
        self.ready = asyncio.Event()

    async def wait_for(self, wanted: Callable[[Event], bool]) -> Event:
        async def found() -> Event | None:
            return next((item for item in self.items if wanted(item)), None)

        return await eventually(found, within=60)


@contextlib.asynccontextmanager
async def sse_client(stack: CommandStack) -> AsyncIterator[Collected]:
    seen = Collected()

    async def read() -> None:
        url = f"/api/kubeedge/monitor/stream?token={stack.token}"
        async with stack.http.stream("GET", url, timeout=None) as response:
            assert response.status_code == 200
            async for line in response.aiter_lines():
                if line.startswith(":") and "subscribed" in line:
                    seen.ready.set()
                elif line.startswith("data:"):
                    seen.items.append(json.loads(line.removeprefix("data:").strip()))

    task = asyncio.create_task(read())
    try:
        async with asyncio.timeout(30):
            await seen.ready.wait()
        yield seen
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def ws_client(stack: CommandStack, topics: list[str]) -> AsyncIterator[Collected]:
    seen = Collected()
    url = f"ws://127.0.0.1:{stack.settings.api_port}/ws?token={stack.token}"
    async with websockets.connect(url) as ws:
        assert json.loads(await ws.recv())["type"] == "welcome"
        await ws.send(json.dumps({"action": "subscribe", "topics": topics}))
        subscribed = json.loads(await ws.recv())
        assert subscribed["type"] == "subscribed"

        async def read() -> None:
            async for message in ws:
                seen.items.append(json.loads(message))

        task = asyncio.create_task(read())
        try:
            yield seen
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_sse_and_websocket_clients_see_a_join_and_a_command(
    stack: CommandStack, mqtt_broker: Broker, kube_sandbox_url: str
) -> None:
    prefix = f"live{uuid.uuid4().hex[:6]}-"
    config = FleetConfig(
        devices=1,
        mqtt_host=mqtt_broker.host,
        mqtt_port=mqtt_broker.port,
        prefix=prefix,
        node_prefix=f"{prefix}node-",
        device_type="camera",
        timing=Timing(heartbeat_interval=1.0, detection_interval=0),
        # The steering client's; the device joins and gets its own.
        credentials=mqtt_broker.credentials,
    )
    device_id, node_name = f"{prefix}0001", f"{prefix}node-0001"
    topics = ["device_status", "detections", "commands"]
    async with (
        sse_client(stack) as sse,
        ws_client(stack, topics) as ws,
        aiohttp.ClientSession() as http,
    ):
        edgecore = EdgecoreRole(
            registry=NodeRegistry(api_client=sandbox_api_client(kube_sandbox_url)),
            state=JoinedDevices(None),
            joiner=ApiJoiner(
                http=http, access=ApiAccess(base_url=stack.base_url, credential=stack.token)
            ),
        )
        fleet = Fleet(config=config, edgecore=edgecore)
        await fleet.start()
        try:
            # The simulated edgecore joined through the API, registered its Node and came
            # online; the bridge woke the join, which completed.
            joined = await sse.wait_for(
                lambda e: e["event"] == "node_joined" and e.get("device_id") == device_id
            )
            assert joined["node_name"] == node_name
            assert joined["status"] == "Ready"
            # It joined, and connects and answers with the MQTT account the join gave it.
            assert fleet.device(device_id).username == device_id
            await ws.wait_for(
                lambda m: m["type"] == "device_joined" and m.get("device_id") == device_id
            )
            beat = await sse.wait_for(
                lambda e: e["event"] == "heartbeat" and e.get("device_id") == device_id
            )
            assert beat["node_name"] == node_name
            assert beat["cpu"].endswith("%")

            fleet.device(device_id).detect(obj="person", confidence=0.95)
            detection = await ws.wait_for(lambda m: m["type"] == "detection")
            assert (detection["object"], detection["confidence"]) == ("person", 0.95)

            answer = await stack.http.post(
                f"/api/kubeedge/device/{device_id}/command?wait=true",
                json={"command": "capture_image"},
                headers=stack.auth,
            )
            assert answer.json()["command_status"] == "completed", answer.text
            command_id = answer.json()["command_id"]
            for kind in ("command_sent", "command_result"):
                await sse.wait_for(
                    lambda e, kind=kind: e["event"] == kind and e.get("command_id") == command_id
                )
                await ws.wait_for(
                    lambda m, kind=kind: m["type"] == kind and m.get("command_id") == command_id
                )
            result = await ws.wait_for(
                lambda m: m["type"] == "command_result" and m.get("command_id") == command_id
            )
            assert result["status"] == "completed"
            assert result["device_id"] == device_id
        finally:
            await fleet.stop()


async def test_streams_need_credentials(stack: CommandStack) -> None:
    refused = await stack.http.get("/api/kubeedge/monitor/stream")
    assert (refused.status_code, refused.json()["code"]) == (401, "API-002")
    bad = await stack.http.get("/api/kubeedge/monitor/stream?token=not-a-token")
    assert bad.status_code == 401
    with pytest.raises(websockets.exceptions.InvalidStatus) as caught:
        async with websockets.connect(f"ws://127.0.0.1:{stack.settings.api_port}/ws"):
            pass
    assert caught.value.response.status_code == 403
    unknown = await stack.http.get(
        f"/api/kubeedge/monitor/stream?token={stack.token}&events=no_such_event"
    )
    assert unknown.status_code == 400


async def test_edgecore_token_check_refuses_spent_tokens(stack: CommandStack) -> None:
    body = {"node_name": f"tok-{uuid.uuid4().hex[:6]}", "device_id": f"tok-{uuid.uuid4().hex[:6]}"}
    joined = await stack.http.post("/api/kubeedge/device/join", json=body, headers=stack.auth)
    assert joined.status_code == 200, joined.text
    token = token_of(joined.json()["join_command"])

    async def check(node_name: str = body["node_name"]) -> tuple[int, str | None]:
        answer = await stack.http.post(
            "/api/kubeedge/token/validate",
            json={"node_name": node_name},
            headers={"Authorization": f"Bearer {token}"},
        )
        return answer.status_code, answer.json().get("details", {}).get("reason")

    ok = await stack.http.post(
        "/api/kubeedge/token/validate",
        json={"node_name": body["node_name"]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert ok.status_code == 200, ok.text
    assert (ok.json()["valid"], ok.json()["device_id"]) == (True, body["device_id"])
    assert await check("some-other-node") == (401, "wrong_node")
    missing = await stack.http.post("/api/kubeedge/token/validate", json={})
    assert missing.status_code == 401
    forged = await stack.http.post(
        "/api/kubeedge/token/validate", headers={"Authorization": "Bearer abc.def"}
    )
    assert forged.json()["details"]["reason"] == "unknown"

    async with stack.sessions() as session, session.begin():
        past = datetime.now(UTC) - timedelta(minutes=1)
        await session.execute(
            update(JoinToken)
            .where(JoinToken.token_hash == tokens.token_hash(token))
            .values(expires_at=past)
        )
    assert await check() == (401, "expired")
    async with stack.sessions() as session, session.begin():
        row = await tokens.find_by_token(session, token=token)
        assert row is not None
        await tokens.mark_used(session, token_id=row.token_id)
    assert await check() == (401, "used")
    async with stack.sessions() as session, session.begin():
        await tokens.revoke_token(session, token_id=row.token_id)
    assert await check() == (401, "revoked")
