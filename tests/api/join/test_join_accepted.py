"""A join still provisioning when its answer is due is a 202 that says "accepted" (never
"success"), carries what is known so far and a status URL that answers the same way.

The API app runs against the Temporal dev server with a worker of DeviceJoinWorkflow
over stand-in activities, one of which holds until the test lets it go.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.core.state import app_state
from store.access.users import Role
from store.settings import Settings
from tests.api.helpers import ApiUser, bearer, make_settings
from tests.support.helpers import eventually
from tests.workflows.join.fake_join_activities import FakeJoinActivities
from workflows.contracts.join import JoinActivity
from workflows.join.device_join import DeviceJoinWorkflow

# IDs of its own: other tests on the shared dev server join the documents' edge-device-001.
_TAG = uuid.uuid4().hex[:8]
JOIN = {
    "node_name": f"edge-node-{_TAG}",
    "device_id": f"edge-device-{_TAG}",
    "cloud_ip": "192.0.2.10",
}


@pytest.fixture
def settings(
    tmp_path: Path, template_db: tuple[Path, list[ApiUser]], dev_env: WorkflowEnvironment
) -> Settings:
    shutil.copyfile(template_db[0], tmp_path / "edgewright.db")
    return make_settings(
        tmp_path,
        temporal_address=dev_env.client.service_client.config.target_host,
        temporal_namespace=dev_env.client.namespace,
        task_queue=f"join-accepted-{uuid.uuid4()}",
        join_answer_timeout_seconds=1,
    )


@pytest.fixture
async def held(
    dev_env: WorkflowEnvironment, settings: Settings, app: FastAPI
) -> AsyncIterator[FakeJoinActivities]:
    """A worker whose RBAC step waits for its hold; let go at the end so the run ends."""
    fakes = FakeJoinActivities()
    release = fakes.holds[JoinActivity.APPLY_NODE_RBAC] = asyncio.Event()
    async with Worker(
        dev_env.client,
        task_queue=settings.task_queue,
        workflows=[DeviceJoinWorkflow],
        activities=fakes.all(),
    ):
        await eventually(lambda: _connected(app))
        try:
            yield fakes
        finally:
            release.set()
            handle = dev_env.client.get_workflow_handle(f"device-join/{JOIN['device_id']}")
            await handle.terminate("test over")


async def _connected(app: FastAPI) -> bool:
    return app_state(app).temporal.client is not None


async def test_a_join_still_provisioning_is_accepted_with_a_status_url(
    held: FakeJoinActivities, client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    device_id = JOIN["device_id"]
    answer = await client.post(
        "/api/kubeedge/device/join", json=JOIN, headers=bearer(tokens[Role.OPERATOR])
    )
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["status"] == "accepted"
    assert body["join_status"] == "provisioning"
    assert body["join_command"] is None
    assert body["steps"]["rbac_configured"] is False  # what the run says so far
    assert body["status_url"] == f"/api/kubeedge/device/{device_id}/join"

    # The answer was due after 1 s: on a loaded machine the run may not have reached its
    # held step by then. Once it has, the status URL says what the same POST says.
    async def at_the_hold() -> bool:
        return JoinActivity.APPLY_NODE_RBAC.value in held.calls

    await eventually(at_the_hold)
    followed = await client.get(body["status_url"], headers=bearer(tokens[Role.VIEWER]))
    assert followed.status_code == 202, followed.text
    assert followed.json()["status"] == "accepted"
    again = await client.post(
        "/api/kubeedge/device/join", json=JOIN, headers=bearer(tokens[Role.OPERATOR])
    )
    assert again.status_code == 202, again.text
    assert followed.json()["steps"] == again.json()["steps"]
    assert followed.json()["steps"]["rbac_configured"] is False
    done_first = {step for step, done in body["steps"].items() if done}
    assert done_first <= {step for step, done in followed.json()["steps"].items() if done}

    unknown = await client.get(
        "/api/kubeedge/device/nobody/join", headers=bearer(tokens[Role.VIEWER])
    )
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "API-004"
