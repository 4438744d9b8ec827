"""The SDK against the command stack: API on a real port, worker, bridge, broker."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.e2e.command_stack import CommandStack, command_settings, running_command_stack
from tests.support.mqtt_fixtures import Broker

ROOT = Path(__file__).resolve().parents[3]
SDK_SOURCE = ROOT / "sdk" / "src"


@pytest.fixture
async def stack(
    dev_env: WorkflowEnvironment, kube_sandbox_url: str, mqtt_broker: Broker, tmp_path: Path
) -> AsyncIterator[CommandStack]:
    settings = command_settings(
        data_dir=tmp_path, temporal=dev_env.client, sandbox_url=kube_sandbox_url, broker=mqtt_broker
    )
    async with running_command_stack(settings, dev_env.client) as running:
        yield running


@pytest.fixture(scope="module")
async def module_stack(
    dev_env: WorkflowEnvironment,
    kube_sandbox_url: str,
    mqtt_broker: Broker,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[CommandStack]:
    """One stack for a module's tests (each has its own names)."""
    settings = command_settings(
        data_dir=tmp_path_factory.mktemp("sdk"),
        temporal=dev_env.client,
        sandbox_url=kube_sandbox_url,
        broker=mqtt_broker,
    ).model_copy(
        update={
            "webhook_allow_private": True,  # webhooks to a loopback address
            "live_recheck_seconds": 0.5,  # a revoked stream ends at once
            "join_answer_timeout_seconds": 0.5,  # a batch answers 202: followed by polling
        }
    )
    async with running_command_stack(settings, dev_env.client) as running:
        yield running


async def new_api_key(stack: CommandStack, *, role: str = "operator") -> str:
    answer = await stack.http.post(
        "/api/auth/api-keys",
        json={"name": f"sdk-{os.urandom(3).hex()}", "role": role},
        headers=stack.auth,
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["key"])


def sdk_env(**extra: str) -> dict[str, str]:
    """A subprocess environment that imports the SDK from this checkout, unbuffered."""
    path = os.pathsep.join(filter(None, [str(SDK_SOURCE), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1", **extra}
