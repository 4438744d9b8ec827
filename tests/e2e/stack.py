"""The whole join path in one test process: API app, real worker, real servers.

Temporal is the dev server, MQTT a real broker, Kubernetes the sandbox emulator over
HTTP, the store a SQLite file. Only the API's HTTP transport is in-process (ASGI).
"""

from __future__ import annotations

import asyncio
import functools
import os
import secrets
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import httpx
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from activities.join.kubernetes import KubeActivities
from adapters.kubernetes.client import KubeTarget, connect_kube
from adapters.mqtt.credentials import service_credentials
from adapters.mqtt.publisher import MqttPublisher
from api.main import create_app
from store.access.users import Role, hash_password
from store.db import create_engine, session_factory
from store.models import User, new_user_uid
from store.settings import KubeMode, Settings
from tests.support.mqtt_fixtures import Broker, broker_settings
from tests.support.store_fixtures import migrate
from workers.__main__ import device_accounts
from workers.health import HealthReporter
from workers.worker import activity_callables, build_worker

ADMIN_PASSWORD = secrets.token_urlsafe(16)


@functools.cache
def _admin_password_hash() -> str:
    # Argon2 costs tens of milliseconds of CPU by design: every stack's admin shares one.
    return hash_password(ADMIN_PASSWORD)


def add_admin(session: AsyncSession) -> None:
    """The admin every stack logs in as, with ADMIN_PASSWORD."""
    session.add(
        User(
            uid=new_user_uid(),
            username="admin",
            password_hash=_admin_password_hash(),
            role=Role.ADMIN.value,
        )
    )


@dataclass
class Stack:
    settings: Settings
    http: httpx.AsyncClient
    temporal: Client
    sessions: async_sessionmaker[AsyncSession]
    kube: KubeTarget

    async def login(self) -> dict[str, str]:
        answer = await self.http.post(
            "/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
        )
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['token']}"}


def stack_settings(
    *, data_dir: Path, temporal: Client, sandbox_url: str, broker: Broker
) -> Settings:
    return Settings.model_validate(
        {
            **broker_settings(broker),
            "data_dir": data_dir,
            "secret_key": secrets.token_urlsafe(48),
            "temporal_address": temporal.service_client.config.target_host,
            "temporal_namespace": temporal.namespace,
            "task_queue": f"e2e-{uuid.uuid4()}",
            "kube_mode": KubeMode.SANDBOX,
            "sandbox_url": sandbox_url,
            "cloudcore_address": "192.0.2.10",
            "join_answer_timeout_seconds": 60,
        }
    )


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that gives a subprocess (a worker, say) these same settings."""
    env = dict(os.environ)
    for name, value in settings.model_dump(exclude_none=True).items():
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        env[f"EDGEWRIGHT_{name.upper()}"] = str(value.value if isinstance(value, Enum) else value)
    return env


@asynccontextmanager
async def running_stack(
    settings: Settings, temporal: Client, *, worker: bool = True, health: bool = False
) -> AsyncIterator[Stack]:
    """API in process; the worker too unless `worker=False` (a test runs its own), and its
    health reports with `health=True` (the first one done before the stack is yielded)."""
    await migrate(settings.sqlalchemy_url)
    engine = create_engine(settings.sqlalchemy_url)
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():
        add_admin(session)
    target = connect_kube(settings)
    kube = KubeActivities(target=target)
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
    app = create_app(settings)
    try:
        with ThreadPoolExecutor(max_workers=8) as executor:
            async with AsyncExitStack() as stack:
                if worker:
                    await stack.enter_async_context(
                        build_worker(
                            temporal, settings=settings, activities=activities, executor=executor
                        )
                    )
                if health:
                    reporter = HealthReporter(
                        sessions=sessions,
                        target=target,
                        kube=kube,
                        publisher=publisher,
                        kubeedge_namespace=settings.kubeedge_namespace,
                    )
                    await reporter.report_once()
                    reporting = asyncio.create_task(reporter.report_forever())
                    stack.callback(reporting.cancel)
                await stack.enter_async_context(app.router.lifespan_context(app))
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
                    yield Stack(settings, http, temporal, sessions, target)
    finally:
        if broker is not None:
            await broker.stop()
        await publisher.stop()
        await engine.dispose()
