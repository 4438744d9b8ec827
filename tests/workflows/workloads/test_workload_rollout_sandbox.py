"""WorkloadRolloutWorkflow with the real activities: the Kubernetes sandbox, a real store,
and a task playing kubelet (it reports each object's status, or fails chosen nodes)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from kubernetes import client
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from adapters.kubernetes.client import KubeTarget
from store.models import Workload, WorkloadNode
from tests.support.kube_fixtures import MERGE_PATCH, sandbox_api_client
from workers.workloads import WORKLOAD_WORKFLOWS, workload_activities
from workflows.contracts.common import NODE_LABEL
from workflows.contracts.workloads import (
    REVISION_LABEL,
    WORKLOAD_FAILED_CONDITION,
    RolloutInput,
    RolloutProgress,
    RolloutState,
    RolloutStrategy,
    WorkloadSpec,
    rollout_workflow_id,
)

NODES = [f"sbx-{n:02d}" for n in range(8)]


class Kubelet:
    """Reports status for every Deployment in a namespace, failing the chosen nodes."""

    def __init__(self, api: client.ApiClient, namespace: str) -> None:
        self.apps = client.AppsV1Api(api)
        self.namespace = namespace
        self.failing: set[str] = set()

    def sweep(self) -> None:
        listing = self.apps.list_namespaced_deployment(self.namespace, _preload_content=False)
        for item in json.loads(listing.data)["items"]:
            meta, status = item["metadata"], item.get("status") or {}
            if meta.get("namespace") != self.namespace:
                continue  # the sandbox ignores the namespace in lists
            generation = meta.get("generation", 0)
            if status.get("observedGeneration") == generation:
                continue
            node = meta["labels"][NODE_LABEL]
            report: dict[str, Any] = {"observedGeneration": generation}
            if node in self.failing:
                report["conditions"] = [
                    {
                        "type": WORKLOAD_FAILED_CONDITION,
                        "status": "True",
                        "reason": "CrashLoopBackOff",
                    }
                ]
            else:
                replicas = item["spec"].get("replicas", 1)
                report |= {"readyReplicas": replicas, "updatedReplicas": replicas, "conditions": []}
            self.apps.patch_namespaced_deployment_status(
                meta["name"], self.namespace, {"status": report}, _content_type=MERGE_PATCH
            )

    async def run(self) -> None:
        while True:
            await asyncio.to_thread(self.sweep)
            await asyncio.sleep(0.05)


@pytest.fixture
async def rig(
    time_skipping_env: WorkflowEnvironment,
    kube_sandbox_url: str,
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[tuple[str, Kubelet]]:
    api = sandbox_api_client(kube_sandbox_url)
    target = KubeTarget(mode="sandbox", description="test sandbox", api_client=api)
    queue = f"rollout-sandbox-{uuid.uuid4()}"
    kubelet = Kubelet(api, f"sbx-{uuid.uuid4().hex[:8]}")
    task = asyncio.create_task(kubelet.run())
    with ThreadPoolExecutor(max_workers=8) as executor:
        async with Worker(
            time_skipping_env.client,
            task_queue=queue,
            workflows=list(WORKLOAD_WORKFLOWS),
            activities=workload_activities(sessions=sessions, target=target),
            activity_executor=executor,
        ):
            yield queue, kubelet
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _workload(
    sessions: async_sessionmaker[AsyncSession], workload_id: str, revision: int
) -> None:
    """What the API leaves before starting a rollout of `revision`."""
    async with sessions() as session, session.begin():
        existing = await session.get(Workload, workload_id)
        if existing is not None:
            existing.revision = revision
            return
        session.add(
            Workload(
                workload_id=workload_id,
                name="web",
                namespace="apps",
                kind="deployment",
                source="v1",
                revision=revision,
                deployed_revision=None,
                status="deploying",
                target_nodes=NODES,
            )
        )


async def _roll(
    env: WorkflowEnvironment, queue: str, workload_id: str, revision: int, spec: WorkloadSpec
) -> RolloutProgress:
    inp = RolloutInput(
        workload_id=workload_id,
        revision=revision,
        spec=spec,
        nodes=NODES,
        strategy=RolloutStrategy(canary_nodes=1, wave_percent=25, gate_timeout_seconds=30),
        rollout_id=str(uuid.uuid4()),
    )
    result: RolloutProgress = await env.client.execute_workflow(
        "WorkloadRolloutWorkflow",
        inp,
        id=rollout_workflow_id(workload_id, revision),
        task_queue=queue,
        result_type=RolloutProgress,
    )
    return result


async def test_a_rollout_completes_and_a_failing_one_rolls_back_to_it(
    time_skipping_env: WorkflowEnvironment,
    rig: tuple[str, Kubelet],
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    queue, kubelet = rig
    workload_id = str(uuid.uuid4())
    await _workload(sessions, workload_id, 1)
    v1 = WorkloadSpec(name="web", namespace=kubelet.namespace, image="nginx:1.26")
    done = await _roll(time_skipping_env, queue, workload_id, 1, v1)
    assert done.state is RolloutState.COMPLETED
    assert done.nodes_ready == len(NODES)

    kubelet.failing = {NODES[4]}  # in the third wave: waves [1, 2, 2, 2, 1]
    v2 = v1.model_copy(update={"image": "nginx:1.27"})
    await _workload(sessions, workload_id, 2)
    failed = await _roll(time_skipping_env, queue, workload_id, 2, v2)
    assert failed.state is RolloutState.ROLLED_BACK
    assert failed.failures[NODES[4]] == "CrashLoopBackOff"
    assert sorted(failed.rolled_back) == sorted(NODES[:5])

    apps = kubelet.apps
    listing = json.loads(
        apps.list_namespaced_deployment(kubelet.namespace, _preload_content=False).data
    )
    mine = [
        item for item in listing["items"] if item["metadata"].get("namespace") == kubelet.namespace
    ]
    assert len(mine) == len(NODES)
    for item in mine:
        assert item["metadata"]["labels"][REVISION_LABEL] == "1"
        assert item["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"
    async with sessions() as session:
        workload = await session.get(Workload, workload_id)
        nodes = await session.get(WorkloadNode, (workload_id, NODES[0]))
    assert workload is not None
    assert (workload.status, workload.deployed_revision) == ("rolled_back", 1)
    assert nodes is not None
    assert (nodes.revision, nodes.state) == (1, "rolled_back")
