"""CloudCoreActivities over HTTP against the Kubernetes sandbox (one namespace per test)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from kubernetes import client
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import ActivityEnvironment

from activities.cloudcore.deployment import CloudCoreActivities
from adapters.kubernetes.client import KubeTarget, connect_kube
from store import cloudcore as observed
from store.settings import KubeMode, Settings
from tests.support.helpers import eventually
from tests.support.kube_fixtures import hold_rollouts
from workflows.contracts.cloudcore import (
    CloudCoreApplyInput,
    CloudCoreResources,
    CloudCoreRestoreInput,
    CloudCoreSpec,
    CloudCoreTarget,
)

env = ActivityEnvironment()


@pytest.fixture
def target(kube_sandbox_url: str) -> KubeTarget:
    return connect_kube(Settings(kube_mode=KubeMode.SANDBOX, sandbox_url=kube_sandbox_url))


@pytest.fixture
def acts(target: KubeTarget, sessions: async_sessionmaker[AsyncSession]) -> CloudCoreActivities:
    return CloudCoreActivities(target=target, sessions=sessions)


@pytest.fixture
def cc_target() -> CloudCoreTarget:
    return CloudCoreTarget(namespace=f"kubeedge-{uuid.uuid4().hex[:8]}")


def spec(version: str, *, replicas: int = 1, cpu: str | None = None) -> CloudCoreSpec:
    return CloudCoreSpec(
        version=version, replicas=replicas, resources=CloudCoreResources(cpu=cpu, memory="512Mi")
    )


async def rolled_out(acts: CloudCoreActivities, inp: CloudCoreApplyInput) -> bool:
    return env.run(acts.read_cloudcore_rollout, inp).complete


def read_deployment(api: client.ApiClient, namespace: str) -> client.V1Deployment:
    return client.AppsV1Api(api).read_namespaced_deployment("cloudcore", namespace)


def gone(call: object, *args: object) -> bool:
    try:
        call(*args)  # type: ignore[operator]
    except client.exceptions.ApiException as exc:
        return exc.status == 404
    return False


async def test_create_wait_update_and_restore(
    acts: CloudCoreActivities, target: KubeTarget, cc_target: CloudCoreTarget
) -> None:
    api, ns = target.api_client, cc_target.namespace
    # The sandbox's Deployment controller rolls CloudCore out; held, it never completes.
    await asyncio.to_thread(hold_rollouts, api, ns)
    before = env.run(acts.read_cloudcore, cc_target)
    assert not before.deployment_existed
    assert not before.service_existed

    first = CloudCoreApplyInput(target=cc_target, spec=spec("1.17.0", cpu="500m"))
    env.run(acts.apply_cloudcore, first)
    deployment = await asyncio.to_thread(read_deployment, api, ns)
    container = deployment.spec.template.spec.containers[0]
    assert container.image == "kubeedge/cloudcore:v1.17.0"
    assert container.resources.requests == {"cpu": "500m", "memory": "512Mi"}
    assert container.resources.limits == {"cpu": "500m", "memory": "512Mi"}
    service = await asyncio.to_thread(
        client.CoreV1Api(api).read_namespaced_service, "cloudcore", ns
    )
    assert service.spec.type == "NodePort"
    assert [p.port for p in service.spec.ports] == [10000, 10001, 10002, 10003, 10004]

    assert not env.run(acts.read_cloudcore_rollout, first).complete
    await asyncio.to_thread(hold_rollouts, api, ns, held=False)
    await eventually(lambda: rolled_out(acts, first))

    # An update changes only what the request names; the state before it is what a
    # rollback puts back.
    previous = env.run(acts.read_cloudcore, cc_target)
    assert previous.image == "kubeedge/cloudcore:v1.17.0"
    second = CloudCoreApplyInput(target=cc_target, spec=spec("v1.18.0", replicas=3))
    await asyncio.to_thread(hold_rollouts, api, ns)
    env.run(acts.apply_cloudcore, second)
    updated = (await asyncio.to_thread(read_deployment, api, ns)).spec
    assert updated.replicas == 3
    assert updated.template.spec.containers[0].image == "kubeedge/cloudcore:v1.18.0"
    assert not env.run(acts.read_cloudcore_rollout, second).complete  # held

    env.run(acts.restore_cloudcore, CloudCoreRestoreInput(target=cc_target, previous=previous))
    restored = (await asyncio.to_thread(read_deployment, api, ns)).spec
    assert restored.replicas == 1
    assert restored.template.spec.containers[0].image == "kubeedge/cloudcore:v1.17.0"
    assert restored.template.spec.containers[0].resources.requests["cpu"] == "500m"

    # Back to "nothing was there": what the first deploy created is deleted.
    env.run(acts.restore_cloudcore, CloudCoreRestoreInput(target=cc_target, previous=before))
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    assert await asyncio.to_thread(gone, apps.read_namespaced_deployment, "cloudcore", ns)
    assert await asyncio.to_thread(gone, core.read_namespaced_service, "cloudcore", ns)


async def test_snapshot_records_what_the_status_endpoint_shows(
    acts: CloudCoreActivities,
    target: KubeTarget,
    cc_target: CloudCoreTarget,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    apply = CloudCoreApplyInput(target=cc_target, spec=spec("1.18.0"))
    env.run(acts.apply_cloudcore, apply)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "cloudcore-6fd9f5779-kcjq8",
            "namespace": cc_target.namespace,
            "labels": {"k8s-app": "kubeedge", "kubeedge": "cloudcore"},
        },
        "spec": {"containers": [{"name": "cloudcore", "image": "kubeedge/cloudcore:v1.18.0"}]},
        "status": {"phase": "Running", "containerStatuses": [{"ready": True, "restartCount": 2}]},
    }
    core = client.CoreV1Api(target.api_client)
    # Raw: the typed model wants container status fields the controller would fill in.
    await asyncio.to_thread(
        core.create_namespaced_pod, cc_target.namespace, pod, _preload_content=False
    )
    await eventually(lambda: rolled_out(acts, apply))  # the sandbox's Deployment controller

    await env.run(acts.snapshot_cloudcore, cc_target)
    async with sessions() as session:
        row = await observed.load_observed(session, key=observed.CLOUDCORE)
    assert row is not None
    snapshot = row.value
    assert snapshot["status"] == "running"
    assert snapshot["version"] == "1.18.0"
    assert snapshot["pods"][0]["name"] == "cloudcore-6fd9f5779-kcjq8"
    assert snapshot["pods"][0]["ready"] == "1/1"
    assert snapshot["pods"][0]["restarts"] == 2
    assert snapshot["services"][0]["type"] == "NodePort"
    assert snapshot["services"][0]["ports"][0]["name"] == "cloudhub"
