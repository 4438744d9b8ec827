"""The running stack for the inventory's end-to-end tests, and the parts of the cluster
the sandbox has no controller for (a Deployment never rolls out by itself)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from tests.e2e.stack import Stack, running_stack, stack_settings
from tests.support.helpers import eventually
from tests.support.kube_fixtures import MERGE_PATCH
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


def report_rollout(api: k8s.ApiClient, namespace: str, *, replicas: int) -> None:
    """Write the Deployment status the controller would once `replicas` new pods are up."""
    counts = ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")
    apps = k8s.AppsV1Api(api)
    generation = apps.read_namespaced_deployment("cloudcore", namespace).metadata.generation
    status = {"observedGeneration": generation, **dict.fromkeys(counts, replicas)}
    apps.patch_namespaced_deployment_status(
        "cloudcore", namespace, {"status": status}, _content_type=MERGE_PATCH
    )


async def roll_out_once_created(stack: Stack, namespace: str, *, replicas: int = 1) -> None:
    """Play the Deployment controller: as soon as CloudCore's Deployment exists, report it
    rolled out."""
    apps = k8s.AppsV1Api(stack.kube.api_client)

    async def created() -> bool:
        return await asyncio.to_thread(
            exists, apps.read_namespaced_deployment, "cloudcore", namespace
        )

    await eventually(created)
    await asyncio.to_thread(report_rollout, stack.kube.api_client, namespace, replicas=replicas)


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
