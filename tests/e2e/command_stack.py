"""The command path end to end in one test process, over real sockets.

Worker, bridge and the API (served by uvicorn on a loopback port, so SSE and WebSocket
stream for real) on the Temporal dev server, a real broker, the Kubernetes sandbox and a
SQLite file; a simulated fleet plays the devices. `CommandStack.devices(...)` puts
devices into the inventory directly, for tests about commands rather than joins.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from activities.join.kubernetes import KubeActivities
from adapters.kubernetes.client import connect_kube
from adapters.mqtt.credentials import service_credentials
from adapters.mqtt.publisher import MqttPublisher
from api.main import create_app
from simulator.device import Timing
from simulator.fleet import Fleet, FleetConfig, device_specs
from store.db import create_engine, session_factory
from store.devices import inventory as devices
from store.settings import Settings
from tests.e2e.stack import ADMIN_PASSWORD, add_admin, stack_settings
from tests.support.helpers import eventually, free_port
from tests.support.mqtt_fixtures import Broker
from tests.support.store_fixtures import migrate
from workers.__main__ import device_accounts
from workers.bridge.service import Bridge, running_bridge
from workers.worker import activity_callables, build_worker


@dataclass
class CommandStack:
    settings: Settings
    base_url: str
    http: httpx.AsyncClient
    temporal: Client
    sessions: async_sessionmaker[AsyncSession]
    bridge: Bridge
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def devices(
        self, count: int, *, mqtt: Broker, device_type: str = "camera", **timing: Any
    ) -> Fleet:
        """`count` devices in the inventory (as if joined) and online on the broker."""
        prefix = f"t{uuid.uuid4().hex[:6]}-dev-"
        config = FleetConfig(
            devices=count,
            mqtt_host=mqtt.host,
            mqtt_port=mqtt.port,
            prefix=prefix,
            node_prefix=f"{prefix}node-",
            device_type=device_type,
            timing=Timing(heartbeat_interval=1.0, detection_interval=0, **timing),
            # Put into the inventory directly, not joined: the services' account.
            credentials=mqtt.credentials,
        )
        async with self.sessions() as session, session.begin():
            for spec in device_specs(config):
                await devices.upsert_device(
                    session,
                    device_id=spec.device_id,
                    node_name=spec.node_name,
                    status="joined",
                    device_type=spec.device_type,
                )
        fleet = Fleet(config=config)
        await fleet.start()
        for device_id in fleet.devices:
            await self.wait_presence(device_id, online=True)
        return fleet

    async def wait_presence(self, device_id: str, *, online: bool) -> None:
        from store.devices.presence import presence_of

        async def reached() -> bool:
            async with self.sessions() as session:
                found = await presence_of(session, device_id=device_id)
            return found is not None and found.online == online

        await eventually(reached)


def command_settings(
    *, data_dir: Path, temporal: Client, sandbox_url: str, broker: Broker
) -> Settings:
    base = stack_settings(
        data_dir=data_dir, temporal=temporal, sandbox_url=sandbox_url, broker=broker
    )
    return base.model_copy(
        update={
            "api_port": free_port(),
            "bridge_client_id": f"bridge-{uuid.uuid4().hex[:8]}",
            # Its own group, so its own durable session: the session-wide broker keeps the
            # sessions of earlier tests' bridges, with what was queued for them.
            "bridge_share_group": f"bridge-{uuid.uuid4().hex[:8]}",
            "bridge_flush_interval_seconds": 0.2,
            "rate_limit_per_minute": 100_000,
            "command_answer_timeout_seconds": 30.0,
        }
    )


@asynccontextmanager
async def running_command_stack(
    settings: Settings, temporal: Client
) -> AsyncIterator[CommandStack]:
    await migrate(settings.sqlalchemy_url)
    engine = create_engine(settings.sqlalchemy_url)
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():
        add_admin(session)
    kube = KubeActivities(target=connect_kube(settings))
    publisher = MqttPublisher(
        host=settings.mqtt_host,
        port=settings.mqtt_port,
        client_id=f"e2e-{uuid.uuid4().hex[:6]}",
        credentials=service_credentials(settings),
    )
    await publisher.start()
    broker = device_accounts(settings, client_id=f"e2e-control-{uuid.uuid4().hex[:6]}")
    if broker is not None:
        await broker.start()
    activities = activity_callables(
        settings=settings, sessions=sessions, kube=kube, publisher=publisher, broker=broker
    )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings),
            host="127.0.0.1",
            port=settings.api_port,
            log_level="warning",
            lifespan="on",
        )
    )
    base_url = f"http://127.0.0.1:{settings.api_port}"
    try:
        with ThreadPoolExecutor(max_workers=8) as executor:
            worker = build_worker(
                temporal, settings=settings, activities=activities, executor=executor
            )
            async with (
                worker,
                running_bridge(settings=settings, temporal=temporal, sessions=sessions) as bridge,
            ):
                async with asyncio.timeout(30):
                    await bridge.durable.subscribed.wait()  # results and last wills
                    await bridge.subscribed.wait()  # heartbeats and events
                serving = asyncio.create_task(server.serve())
                try:
                    await eventually(lambda: _started(server))
                    async with httpx.AsyncClient(base_url=base_url, timeout=120) as http:
                        login = await http.post(
                            "/api/auth/login",
                            json={"username": "admin", "password": ADMIN_PASSWORD},
                        )
                        assert login.status_code == 200, login.text
                        yield CommandStack(
                            settings=settings,
                            base_url=base_url,
                            http=http,
                            temporal=temporal,
                            sessions=sessions,
                            bridge=bridge,
                            token=login.json()["token"],
                        )
                finally:
                    server.should_exit = True
                    with contextlib.suppress(asyncio.CancelledError):
                        await serving
    finally:
        if broker is not None:
            await broker.stop()
        await publisher.stop()
        await engine.dispose()


async def _started(server: uvicorn.Server) -> bool:
    return server.started
