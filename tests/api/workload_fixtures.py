"""An API app wired to the Temporal dev server, with a worker running the stand-in
rollout and removal workflows (tests/api/stub_workloads.py) on its own task queue."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.core.state import app_sessions
from api.main import create_app
from store.models import Rollout, Workload, WorkloadNode, WorkloadRevision, utcnow
from store.settings import Settings
from tests.api.helpers import ApiUser, make_settings
from tests.api.stub_workloads import FORGET, RECORD, StubRemoval, StubRollout
from workflows.contracts.workloads import RolloutProgress, RolloutState

FINAL_STATUS = {
    RolloutState.COMPLETED: "running",
    RolloutState.ROLLED_BACK: "rolled_back",
    RolloutState.FAILED: "failed",
}


class StubRecords:
    """What the engine's record activities write, reduced to what the API reads."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name=RECORD)
    async def record(self, progress: RolloutProgress, ready: list[str]) -> None:
        async with self._sessions() as session, session.begin():
            rollout = await session.get(Rollout, progress.rollout_id)
            workload = await session.get(Workload, progress.workload_id)
            assert rollout is not None
            assert workload is not None
            rollout.state = progress.state.value
            rollout.progress = progress.model_dump(mode="json")
            rollout.finished_at = progress.finished_at
            for node in ready:
                row = await session.get(WorkloadNode, (progress.workload_id, node))
                if row is None:
                    row = WorkloadNode(workload_id=progress.workload_id, node_name=node)
                    session.add(row)
                row.revision, row.state, row.updated_at = progress.revision, "ready", utcnow()
            status = FINAL_STATUS.get(progress.state)
            if status is not None and workload.revision == progress.revision:
                workload.status = status
                if progress.state is RolloutState.COMPLETED:
                    workload.deployed_revision = progress.revision

    @activity.defn(name=FORGET)
    async def forget(self, workload_id: str) -> list[str]:
        async with self._sessions() as session, session.begin():
            for model in (WorkloadNode, Rollout, WorkloadRevision, Workload):
                await session.execute(delete(model).where(model.workload_id == workload_id))
        return [f"Deployment/{workload_id}"]


@dataclass
class LiveApi:
    app: FastAPI
    http: httpx.AsyncClient
    settings: Settings
    env: WorkflowEnvironment


@asynccontextmanager
async def live_api(
    env: WorkflowEnvironment, *, template: Path, data_dir: Path
) -> AsyncIterator[LiveApi]:
    shutil.copyfile(template, data_dir / "edgewright.db")
    client = env.client
    settings = make_settings(
        data_dir,
        temporal_address=client.service_client.config.target_host,
        temporal_namespace=client.namespace,
        task_queue=f"api-workloads-{uuid.uuid4()}",
        join_answer_timeout_seconds=30,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        records = StubRecords(app_sessions(app))
        async with Worker(
            client,
            task_queue=settings.task_queue,
            workflows=[StubRollout, StubRemoval],
            activities=[records.record, records.forget],
        ):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
                yield LiveApi(app, http, settings, env)


@pytest.fixture
async def live(
    dev_env: WorkflowEnvironment, template_db: tuple[Path, list[ApiUser]], tmp_path: Path
) -> AsyncIterator[LiveApi]:
    """The API against the dev server; the users and tokens of tests/api/conftest.py."""
    (tmp_path / "live").mkdir()
    async with live_api(dev_env, template=template_db[0], data_dir=tmp_path / "live") as api:
        yield api
