"""The running stack for the inventory's end-to-end tests, and what they ask of it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from kubernetes.client.exceptions import ApiException
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from tests.e2e.stack import Stack, running_stack, stack_settings
from tests.support.mqtt_fixtures import Broker
from workflows.contracts.devices import SYNC_NODES_WORKFLOW, SyncNodesInput


@asynccontextmanager
async def inventory_stack(
    env: WorkflowEnvironment, sandbox_url: str, broker: Broker, data_dir: Path, **overrides: Any
) -> AsyncIterator[Stack]:
    settings = stack_settings(
        data_dir=data_dir, temporal=env.client, sandbox_url=sandbox_url, broker=broker
    )
    async with running_stack(settings.model_copy(update=overrides), env.client) as stack:
        yield stack


def exists(read: Any, *args: Any) -> bool:
    try:
        read(*args, _preload_content=False)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


@asynccontextmanager
async def node_sync(stack: Stack) -> AsyncIterator[WorkflowHandle[Any, Any]]:
    """A SyncNodesWorkflow of this test's own (the shared ID would outlive the test)."""
    handle = await stack.temporal.start_workflow(
        SYNC_NODES_WORKFLOW,
        SyncNodesInput(interval_seconds=3600, kubeedge_namespace=stack.settings.kubeedge_namespace),
        id=f"sync-nodes-{uuid.uuid4()}",
        task_queue=stack.settings.task_queue,
    )
    try:
        yield handle
    finally:
        await handle.terminate()
