"""The stack most end-to-end tests run against; a module that needs another defines its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.e2e.stack import Stack, running_stack, stack_settings
from tests.support.mqtt_fixtures import Broker


@pytest.fixture
def stack_overrides() -> dict[str, Any]:
    """Test modules override this to change some of the stack's settings."""
    return {}


@pytest.fixture
async def stack(
    dev_env: WorkflowEnvironment,
    kube_sandbox_url: str,
    mqtt_broker: Broker,
    tmp_path: Path,
    stack_overrides: dict[str, Any],
) -> AsyncIterator[Stack]:
    """API and worker in this process, against the dev server, the sandbox and a broker."""
    settings = stack_settings(
        data_dir=tmp_path, temporal=dev_env.client, sandbox_url=kube_sandbox_url, broker=mqtt_broker
    ).model_copy(update=stack_overrides)
    async with running_stack(settings, dev_env.client) as running:
        yield running
