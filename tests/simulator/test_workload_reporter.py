"""The simulated kubelet against the Kubernetes sandbox over HTTP: what it reports, and when."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from kubernetes import client as k8s

from adapters.mqtt.client import AsyncMqttClient, MiscTicker
from simulator.device import Timing
from simulator.fleet import Fleet, FleetConfig, control_topic
from simulator.workloads import WorkloadFaults, WorkloadReporter
from tests.support.helpers import eventually
from tests.support.kube_fixtures import MERGE_PATCH, sandbox_api_client
from tests.support.mqtt_fixtures import Broker
from workflows.contracts.common import MANAGED_BY, MANAGED_BY_LABEL
from workflows.contracts.workloads import (
    HOSTNAME_LABEL,
    WORKLOAD_FAILED_CONDITION,
    labels_for,
    workload_object_name,
)

NAMESPACE = "default"


@pytest.fixture
def api(kube_sandbox_url: str) -> Iterator[k8s.ApiClient]:
    api_client = sandbox_api_client(kube_sandbox_url)
    yield api_client
    api_client.close()


@pytest.fixture
def tag() -> str:
    return uuid.uuid4().hex[:6]


def template(name: str, node: str, labels: dict[str, str], image: str) -> dict[str, Any]:
    return {
        "metadata": {"labels": {**labels, "app": name}},
        "spec": {
            "nodeSelector": {HOSTNAME_LABEL: node},
            "containers": [{"name": "app", "image": image}],
        },
    }


def create(
    api: k8s.ApiClient,
    *,
    kind: str,
    node: str,
    revision: int = 1,
    replicas: int = 2,
    image: str = "nginx:1.27",
    managed: bool = True,
) -> str:
    """An object as the rollout applies it; returns its name."""
    name = workload_object_name(f"w{uuid.uuid4().hex[:6]}", node)
    labels = labels_for("wl-test", revision, node)
    if not managed:
        labels[MANAGED_BY_LABEL] = "someone-else"
    body = {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": template(name, node, labels, image),
        },
    }
    apps = k8s.AppsV1Api(api)
    if kind == "Deployment":
        apps.create_namespaced_deployment(NAMESPACE, body, _preload_content=False)
    else:
        apps.create_namespaced_stateful_set(NAMESPACE, body, _preload_content=False)
    return name


def read(api: k8s.ApiClient, name: str, *, kind: str = "Deployment") -> dict[str, Any]:
    apps = k8s.AppsV1Api(api)
    reader = (
        apps.read_namespaced_deployment
        if kind == "Deployment"
        else apps.read_namespaced_stateful_set
    )
    found: dict[str, Any] = json.loads(reader(name, NAMESPACE, _preload_content=False).data)
    return found


def conditions(obj: dict[str, Any]) -> dict[str, str]:
    return {c["type"]: c["status"] for c in obj.get("status", {}).get("conditions", [])}


def ready(obj: dict[str, Any]) -> bool:
    status = obj.get("status") or {}
    generation = obj["metadata"].get("generation")
    return (
        (generation is None or status.get("observedGeneration", 0) >= generation)
        and status.get("readyReplicas", 0) >= obj["spec"]["replicas"]
        and status.get("updatedReplicas", 0) >= obj["spec"]["replicas"]
        and WORKLOAD_FAILED_CONDITION not in conditions(obj)
    )


async def test_objects_on_its_online_nodes_are_reported_ready_once(
    api: k8s.ApiClient, tag: str
) -> None:
    reporter = WorkloadReporter(api_client=api)
    mine, offline, elsewhere = f"{tag}-n1", f"{tag}-n2", f"{tag}-n3"
    deployment = await asyncio.to_thread(create, api, kind="Deployment", node=mine)
    statefulset = await asyncio.to_thread(create, api, kind="StatefulSet", node=mine, replicas=1)
    unreachable = await asyncio.to_thread(create, api, kind="Deployment", node=offline)
    foreign = await asyncio.to_thread(create, api, kind="Deployment", node=elsewhere)
    unmanaged = await asyncio.to_thread(create, api, kind="Deployment", node=mine, managed=False)

    nodes = {mine: True, offline: False}
    assert await reporter.tick(nodes) == 3
    assert await reporter.tick(nodes) == 0, "a status already up to date is written again"

    obj = await asyncio.to_thread(read, api, deployment)
    assert ready(obj)
    assert obj["status"]["availableReplicas"] == 2
    assert conditions(obj) == {"Available": "True", "Progressing": "True"}
    assert ready(await asyncio.to_thread(read, api, statefulset, kind="StatefulSet"))
    down = await asyncio.to_thread(read, api, unreachable)
    assert not ready(down)
    assert conditions(down)["Available"] == "False"
    for untouched in (foreign, unmanaged):
        assert "status" not in await asyncio.to_thread(read, api, untouched)


async def test_a_new_revision_is_reported_at_its_generation(api: k8s.ApiClient, tag: str) -> None:
    reporter = WorkloadReporter(api_client=api)
    node = f"{tag}-n1"
    name = await asyncio.to_thread(create, api, kind="Deployment", node=node)
    await reporter.tick({node: True})
    before = await asyncio.to_thread(read, api, name)
    assert ready(before)

    # The rollout applies revision 2 with more replicas: the old status no longer covers it.
    labels = labels_for("wl-test", 2, node)
    change = {
        "metadata": {"labels": labels},
        "spec": {"replicas": 3, "template": {"metadata": {"labels": labels}}},
    }
    await asyncio.to_thread(
        k8s.AppsV1Api(api).patch_namespaced_deployment,
        name,
        NAMESPACE,
        change,
        _content_type=MERGE_PATCH,
        _preload_content=False,
    )
    assert not ready(await asyncio.to_thread(read, api, name))
    assert await reporter.tick({node: True}) == 1
    after = await asyncio.to_thread(read, api, name)
    assert ready(after)
    assert after["status"]["readyReplicas"] == 3
    generation = after["metadata"].get("generation")
    if generation is not None:
        assert after["status"]["observedGeneration"] == generation


async def test_told_to_fail_it_reports_failure_then_recovers(api: k8s.ApiClient, tag: str) -> None:
    reporter = WorkloadReporter(api_client=api)
    node, other = f"{tag}-n1", f"{tag}-n2"
    bad = await asyncio.to_thread(create, api, kind="Deployment", node=node, image="app:bad")
    good = await asyncio.to_thread(create, api, kind="Deployment", node=node, image="app:good")
    fine = await asyncio.to_thread(create, api, kind="Deployment", node=other, image="app:bad")
    nodes = {node: True, other: True}

    reporter.steer(node, {"workloads": "fail", "image": "app:bad"})
    await reporter.tick(nodes)
    failed = await asyncio.to_thread(read, api, bad)
    assert conditions(failed)[WORKLOAD_FAILED_CONDITION] == "True"
    assert failed["status"]["readyReplicas"] == 0
    assert "app:bad" in next(
        c["message"]
        for c in failed["status"]["conditions"]
        if c["type"] == WORKLOAD_FAILED_CONDITION
    )
    assert ready(await asyncio.to_thread(read, api, good))
    assert ready(await asyncio.to_thread(read, api, fine))

    reporter.steer(node, {"workloads": "fail"})  # now every image on the node
    await reporter.tick(nodes)
    assert not ready(await asyncio.to_thread(read, api, good))

    reporter.steer(node, {"workloads": "ok"})
    await reporter.tick(nodes)
    for name in (bad, good):
        recovered = await asyncio.to_thread(read, api, name)
        assert ready(recovered)
        assert WORKLOAD_FAILED_CONDITION not in conditions(recovered)


async def test_held_nodes_get_no_status_until_released(api: k8s.ApiClient, tag: str) -> None:
    reporter = WorkloadReporter(api_client=api)
    node = f"{tag}-n1"
    name = await asyncio.to_thread(create, api, kind="Deployment", node=node)
    reporter.steer(node, {"workloads": "hold"})
    assert await reporter.tick({node: True}) == 0
    assert "status" not in await asyncio.to_thread(read, api, name)
    reporter.steer(node, {"workloads": "ok"})
    assert await reporter.tick({node: True}) == 1
    assert ready(await asyncio.to_thread(read, api, name))


def test_faults_by_image_and_for_everything() -> None:
    faults = WorkloadFaults()
    faults.steer("n", {"workloads": "fail", "image": "a"})
    faults.steer("n", {"workloads": "fail", "image": "b"})
    assert faults.failure("n", ["b"]) is not None
    assert faults.failure("n", ["c"]) is None
    assert faults.failure("m", ["a"]) is None
    faults.steer("n", {"workloads": "ok", "image": "a"})
    assert faults.failure("n", ["a"]) is None
    assert faults.failure("n", ["b"]) is not None
    faults.steer("n", {"workloads": "fail"})
    faults.steer("n", {"workloads": "fail", "image": "a"})  # still every image
    assert faults.failure("n", ["z"]) is not None
    faults.steer("n", {"workloads": "ok"})
    assert faults.failure("n", ["b"]) is None
    faults.steer("n", {"workloads": "something else"})
    assert faults.failure("n", ["b"]) is None
    assert not faults.held


@pytest.fixture
async def fleet(api: k8s.ApiClient, mqtt_broker: Broker, tag: str) -> AsyncIterator[Fleet]:
    config = FleetConfig(
        devices=2,
        mqtt_host=mqtt_broker.host,
        mqtt_port=mqtt_broker.port,
        prefix=f"{tag}-dev-",
        node_prefix=f"{tag}-node-",
        device_type="camera",
        timing=Timing(heartbeat_interval=3600),
        credentials=mqtt_broker.credentials,
    )
    running = Fleet(config=config, workloads=WorkloadReporter(api_client=api, interval=0.1))
    await running.start()
    yield running
    await running.stop()


async def test_the_fleet_reports_and_obeys_its_control_topic(
    fleet: Fleet, api: k8s.ApiClient, mqtt_broker: Broker
) -> None:
    first, second = sorted(fleet.devices)
    node, other = fleet.device(first).spec.node_name, fleet.device(second).spec.node_name
    name = await asyncio.to_thread(create, api, kind="Deployment", node=node)
    neighbour = await asyncio.to_thread(create, api, kind="Deployment", node=other)

    async def is_ready(obj_name: str) -> bool:
        return ready(await asyncio.to_thread(read, api, obj_name))

    await eventually(lambda: is_ready(name))

    control = AsyncMqttClient(
        host=mqtt_broker.host,
        port=mqtt_broker.port,
        client_id=f"ctl-{first}",
        ticker=MiscTicker(),
        credentials=mqtt_broker.credentials,
    )
    await control.start()
    try:
        control.publish(control_topic(first), json.dumps({"workloads": "fail"}), qos=1)

        async def failed() -> bool:
            obj = await asyncio.to_thread(read, api, name)
            return conditions(obj).get(WORKLOAD_FAILED_CONDITION) == "True"

        await eventually(failed)
        assert await is_ready(neighbour)

        control.publish(control_topic("all"), json.dumps({"workloads": "ok"}), qos=1)
        await eventually(lambda: is_ready(name))
    finally:
        await control.close()

    # A device that drops off the network takes its workloads' readiness with it.
    await fleet.drop(first)

    async def unready() -> bool:
        return not await is_ready(name)

    await eventually(unready)
    assert (await asyncio.to_thread(read, api, name))["metadata"]["labels"][
        MANAGED_BY_LABEL
    ] == MANAGED_BY
