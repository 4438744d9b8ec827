"""Workload rollouts end to end: API, worker, dev server, the sandbox over HTTP, a store file,
and a simulated fleet whose edgecores register their Nodes and report their workloads.

The devices are put into the inventory directly and their Nodes registered as a joined
edgecore would (joining is tested elsewhere). `simulator.workloads.WorkloadReporter`
plays the kubelets and the Deployment controller; tests steer it over the fleet's MQTT
control topic: `hold` (pods not started yet), `fail` (crash-looping), `ok`.
"""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from temporalio.testing import WorkflowEnvironment

from adapters.mqtt.client import AsyncMqttClient, MiscTicker
from simulator.device import Timing
from simulator.edgecore import NodeRegistry
from simulator.enroll import EdgecoreRole, JoinedDevices
from simulator.fleet import Fleet, FleetConfig, control_topic, device_specs
from simulator.workloads import WorkloadReporter
from store.devices import inventory as devices
from tests.e2e.join.test_batch_join import start_worker
from tests.e2e.stack import Stack, running_stack, stack_settings
from tests.support.helpers import eventually, polled
from tests.support.kube_fixtures import MERGE_PATCH, sandbox_api_client
from tests.support.mqtt_fixtures import Broker
from workflows.contracts.workloads import (
    HOSTNAME_LABEL,
    REVISION_LABEL,
    WORKLOAD_LABEL,
)

V1 = "/api/v1/workloads"
RUN_LABEL = "edgewright.test/run"  # puts a test's nodes apart from other tests' in the sandbox
# What the rollout writes on every object: the digest of the revision it was built from.
SPEC_DIGEST = "edgewright.io/spec-sha256"
FINAL = ("completed", "rolled_back", "failed", "superseded")
WAVES_OF_TWO = {"canary_nodes": 1, "wave_percent": 100, "max_unavailable": 2}


@dataclass
class EdgeFleet:
    """A test's simulated edge devices, their nodes (in order) and a way to steer them."""

    fleet: Fleet
    reporter: WorkloadReporter
    nodes: list[str]
    device_of: dict[str, str]  # node -> device_id
    control: AsyncMqttClient
    tag: str

    async def steer(self, nodes: list[str], order: dict[str, str]) -> None:
        """Tell the nodes' simulated kubelets over MQTT; returns once they obey."""
        for node in nodes:
            self.control.publish(control_topic(self.device_of[node]), json.dumps(order), qos=1)
        faults = self.reporter.faults

        async def obeyed() -> bool:
            if order["workloads"] == "hold":
                return all(node in faults.held for node in nodes)
            if order["workloads"] == "fail":
                return all(node in faults.failing for node in nodes)
            return not any(node in faults.held or node in faults.failing for node in nodes)

        await eventually(obeyed)


@pytest.fixture
async def stack_without_worker(
    dev_env: WorkflowEnvironment, kube_sandbox_url: str, mqtt_broker: Broker, tmp_path: Path
) -> AsyncIterator[Stack]:
    settings = stack_settings(
        data_dir=tmp_path, temporal=dev_env.client, sandbox_url=kube_sandbox_url, broker=mqtt_broker
    )
    async with running_stack(settings, dev_env.client, worker=False) as running:
        yield running


FleetMaker = Callable[[Stack, int], Awaitable[EdgeFleet]]


@pytest.fixture
async def edge_fleet(kube_sandbox_url: str, mqtt_broker: Broker) -> AsyncIterator[FleetMaker]:
    """Makes `count` joined devices whose edgecores run and report their workloads."""
    started: list[tuple[Fleet, AsyncMqttClient, k8s.ApiClient]] = []

    async def make(stack: Stack, count: int) -> EdgeFleet:
        tag = uuid.uuid4().hex[:6]
        config = FleetConfig(
            devices=count,
            mqtt_host=mqtt_broker.host,
            mqtt_port=mqtt_broker.port,
            prefix=f"r{tag}-dev-",
            node_prefix=f"r{tag}-node-",
            device_type="camera",
            timing=Timing(heartbeat_interval=3600),
            credentials=mqtt_broker.credentials,  # in the inventory directly, not joined
        )
        specs = device_specs(config)
        joined = JoinedDevices(None)
        async with stack.sessions() as session, session.begin():
            for spec in specs:
                joined.add(spec)
                await devices.upsert_device(
                    session,
                    device_id=spec.device_id,
                    node_name=spec.node_name,
                    status="joined",
                    device_type=spec.device_type,
                )
        api = sandbox_api_client(kube_sandbox_url)
        edgecore = EdgecoreRole(
            registry=NodeRegistry(api_client=api), state=joined, joiner=None, concurrency=16
        )
        reporter = WorkloadReporter(api_client=api, interval=0.2)
        fleet = Fleet(config=config, edgecore=edgecore, workloads=reporter)
        control = AsyncMqttClient(
            host=mqtt_broker.host,
            port=mqtt_broker.port,
            client_id=f"ctl-{tag}",
            ticker=MiscTicker(),
            credentials=mqtt_broker.credentials,
        )
        started.append((fleet, control, api))
        await control.start()
        await fleet.start()
        nodes = [spec.node_name for spec in specs]
        await asyncio.gather(*(asyncio.to_thread(label_node, api, node, tag) for node in nodes))
        return EdgeFleet(
            fleet=fleet,
            reporter=reporter,
            nodes=nodes,
            device_of={spec.node_name: spec.device_id for spec in specs},
            control=control,
            tag=tag,
        )

    yield make
    for fleet, control, api in started:
        await fleet.stop()
        await control.close()
        api.close()


def label_node(api: k8s.ApiClient, node: str, tag: str) -> None:
    body = {"metadata": {"labels": {RUN_LABEL: tag}}}
    k8s.CoreV1Api(api).patch_node(node, body, _content_type=MERGE_PATCH, _preload_content=False)


# --- API calls ------------------------------------------------------------------------------


async def create_workload(stack: Stack, auth: dict[str, str], **fields: Any) -> str:
    body = {"namespace": "default", "type": "deployment", "replicas": 1, **fields}
    answer = await stack.http.post(V1, json=body, headers=auth)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def deploy(stack: Stack, auth: dict[str, str], workload_id: str, **body: Any) -> str:
    answer = await stack.http.post(f"{V1}/{workload_id}/deploy", json=body, headers=auth)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "deploying"
    return str(answer.json()["deployment_id"])


async def until(
    stack: Stack,
    auth: dict[str, str],
    workload_id: str,
    deployment_id: str,
    check: Callable[[dict[str, Any]], bool] = lambda view: view["state"] in FINAL,
    *,
    within: float = 90,
) -> dict[str, Any]:
    url = f"{V1}/{workload_id}/rollouts/{deployment_id}"

    async def reached() -> dict[str, Any] | None:
        view: dict[str, Any] | None = polled(await stack.http.get(url, headers=auth))
        return view if view is not None and check(view) else None

    return await eventually(reached, within=within)


async def workload(stack: Stack, auth: dict[str, str], workload_id: str) -> dict[str, Any]:
    answer = await stack.http.get(f"{V1}/{workload_id}", headers=auth)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def objects_of(api: k8s.ApiClient, workload_id: str) -> dict[str, dict[str, Any]]:
    """node -> the workload's Deployment there (the sandbox ignores label selectors)."""
    answer = k8s.AppsV1Api(api).list_namespaced_deployment("default", _preload_content=False)
    found = {}
    for obj in json.loads(answer.data)["items"]:
        if (obj["metadata"].get("labels") or {}).get(WORKLOAD_LABEL) == workload_id:
            found[obj["spec"]["template"]["spec"]["nodeSelector"][HOSTNAME_LABEL]] = obj
    return found


async def objects(stack: Stack, workload_id: str) -> dict[str, dict[str, Any]]:
    return await asyncio.to_thread(objects_of, stack.kube.api_client, workload_id)


def revision_of(obj: dict[str, Any]) -> str:
    return str(obj["metadata"]["labels"][REVISION_LABEL])


def image_of(obj: dict[str, Any]) -> str:
    return str(obj["spec"]["template"]["spec"]["containers"][0]["image"])


def paused_after_canary(view: dict[str, Any]) -> bool:
    return view["state"] == "paused" and (view["progress"] or {}).get("waves_done") == 1


# --- the tests ------------------------------------------------------------------------------


async def test_a_rollout_over_50_nodes_completes_in_waves(
    stack: Stack, edge_fleet: FleetMaker
) -> None:
    edge = await edge_fleet(stack, 50)
    auth = await stack.login()
    placement = {
        "strategy": "edge-only",
        "constraints": [{"key": RUN_LABEL, "operator": "In", "values": [edge.tag]}],
    }
    workload_id = await create_workload(
        stack, auth, name=f"web-{edge.tag}", image="nginx:1.27", placement=placement
    )
    # No nodes named: the placement picks this test's 50; a canary, then waves of 25%.
    deployment = await deploy(
        stack, auth, workload_id, strategy={"canary_nodes": 1, "wave_percent": 25}
    )
    view = await until(stack, auth, workload_id, deployment)
    assert view["state"] == "completed", view
    progress = view["progress"]
    assert (progress["total_nodes"], progress["waves_total"], progress["waves_done"]) == (50, 5, 5)
    assert (progress["nodes_ready"], progress["nodes_failed"]) == (50, 0)

    placed = await objects(stack, workload_id)
    assert sorted(placed) == edge.nodes
    for node, obj in placed.items():
        assert revision_of(obj) == "1"
        assert obj["metadata"]["labels"]["edgewright.io/node-name"] == node
        assert obj["status"]["readyReplicas"] == 1
    detail = await workload(stack, auth, workload_id)
    assert (detail["status"], detail["deployed_revision"]) == ("running", 1)
    assert len(detail["nodes"]) == 50


async def test_a_failed_gate_rolls_back_exactly_the_applied_waves(
    stack: Stack, edge_fleet: FleetMaker
) -> None:
    edge = await edge_fleet(stack, 7)
    auth = await stack.login()
    nodes = edge.nodes
    workload_id = await create_workload(stack, auth, name=f"api-{edge.tag}", image="app:1")
    # Waves: [n0] [n1 n2] [n3 n4] [n5 n6].
    first = await deploy(stack, auth, workload_id, nodes=nodes, strategy=WAVES_OF_TWO)
    assert (await until(stack, auth, workload_id, first))["state"] == "completed"
    before = await objects(stack, workload_id)

    # Revision 2 crash-loops on n4, in the third wave.
    await edge.steer([nodes[4]], {"workloads": "fail", "image": "app:2"})
    updated = await stack.http.put(f"{V1}/{workload_id}", json={"image": "app:2"}, headers=auth)
    assert updated.status_code == 200, updated.text
    assert updated.json()["revision"] == 2
    second = updated.json()["deployment_id"]
    view = await until(stack, auth, workload_id, second)
    assert view["state"] == "rolled_back", view
    progress = view["progress"]
    assert sorted(progress["rolled_back"]) == nodes[:5]
    assert list(progress["failures"]) == [nodes[4]]
    assert "app:2" in progress["failures"][nodes[4]]

    after = await objects(stack, workload_id)
    assert sorted(after) == nodes
    assert {revision_of(obj) for obj in after.values()} == {"1"}
    assert {image_of(obj) for obj in after.values()} == {"app:1"}
    for node in nodes[5:]:  # never reached: not written at all
        assert after[node]["metadata"]["generation"] == before[node]["metadata"]["generation"]
    detail = await workload(stack, auth, workload_id)
    assert (detail["revision"], detail["deployed_revision"]) == (2, 1)
    assert detail["status"] == "rolled_back"

    # A first revision that fails is removed from the nodes it reached (here the canary's).
    await edge.steer([nodes[0]], {"workloads": "fail", "image": "app:new"})
    fresh = await create_workload(stack, auth, name=f"new-{edge.tag}", image="app:new")
    third = await deploy(stack, auth, fresh, nodes=nodes, strategy=WAVES_OF_TWO)
    view = await until(stack, auth, fresh, third)
    assert view["state"] == "rolled_back", view
    assert (view["progress"]["waves_done"], view["progress"]["rolled_back"]) == (1, nodes[:1])
    assert await objects(stack, fresh) == {}


async def test_pause_then_resume(stack: Stack, edge_fleet: FleetMaker) -> None:
    edge = await edge_fleet(stack, 4)
    auth = await stack.login()
    nodes = edge.nodes
    workload_id = await create_workload(stack, auth, name=f"cam-{edge.tag}", image="app:1")
    await edge.steer(nodes, {"workloads": "hold"})  # the canary's pods do not start yet
    deployment = await deploy(stack, auth, workload_id, nodes=nodes, strategy=WAVES_OF_TWO)

    async def canary_applied() -> bool:
        return nodes[0] in await objects(stack, workload_id)

    await eventually(canary_applied)
    steer = f"{V1}/{workload_id}/rollouts/{deployment}"
    paused = await stack.http.post(f"{steer}/pause", headers=auth)
    assert paused.status_code == 200, paused.text
    await edge.steer(nodes, {"workloads": "ok"})

    await until(stack, auth, workload_id, deployment, paused_after_canary)
    assert sorted(await objects(stack, workload_id)) == nodes[:1], "a wave went out while paused"

    resumed = await stack.http.post(f"{steer}/resume", headers=auth)
    assert resumed.status_code == 200, resumed.text
    view = await until(stack, auth, workload_id, deployment)
    assert view["state"] == "completed", view
    assert sorted(await objects(stack, workload_id)) == nodes
    again = await stack.http.post(f"{steer}/resume", headers=auth)
    assert again.status_code == 409


async def test_an_update_mid_rollout_finishes_on_the_new_revision(
    stack: Stack, edge_fleet: FleetMaker
) -> None:
    edge = await edge_fleet(stack, 4)
    auth = await stack.login()
    nodes = edge.nodes
    workload_id = await create_workload(stack, auth, name=f"upd-{edge.tag}", image="app:1")
    await edge.steer(nodes, {"workloads": "hold"})
    first = await deploy(stack, auth, workload_id, nodes=nodes, strategy=WAVES_OF_TWO)

    async def canary_applied() -> bool:
        return nodes[0] in await objects(stack, workload_id)

    await eventually(canary_applied)
    updated = await stack.http.put(f"{V1}/{workload_id}", json={"image": "app:2"}, headers=auth)
    assert updated.status_code == 200, updated.text
    second = updated.json()["deployment_id"]
    assert second is not None
    assert second != first
    await edge.steer(nodes, {"workloads": "ok"})

    view = await until(stack, auth, workload_id, second)
    assert view["state"] == "completed", view
    assert view["revision"] == 2
    assert (await until(stack, auth, workload_id, first))["state"] == "superseded"
    placed = await objects(stack, workload_id)
    assert sorted(placed) == nodes
    assert {(revision_of(obj), image_of(obj)) for obj in placed.values()} == {("2", "app:2")}
    detail = await workload(stack, auth, workload_id)
    assert (detail["status"], detail["revision"], detail["deployed_revision"]) == (
        "running",
        2,
        2,
    )


async def test_a_worker_restart_mid_rollout_does_not_reapply_finished_waves(
    stack_without_worker: Stack, edge_fleet: FleetMaker
) -> None:
    stack = stack_without_worker
    worker = start_worker(stack)  # it starts while the fleet does
    try:
        edge = await edge_fleet(stack, 5)
        auth = await stack.login()
        nodes = edge.nodes
        workload_id = await create_workload(stack, auth, name=f"rst-{edge.tag}", image="app:1")
        await edge.steer(nodes, {"workloads": "hold"})
        deployment = await deploy(stack, auth, workload_id, nodes=nodes, strategy=WAVES_OF_TWO)
        steer = f"{V1}/{workload_id}/rollouts/{deployment}"

        async def canary_applied() -> bool:
            return nodes[0] in await objects(stack, workload_id)

        await eventually(canary_applied, within=90)  # once the worker is up
        # Stopped between waves: the worker dies with no activity in flight (one in flight
        # would be retried only after its heartbeat timeout), the canary wave finished.
        assert (await stack.http.post(f"{steer}/pause", headers=auth)).status_code == 200
        await edge.steer(nodes, {"workloads": "ok"})
        await until(stack, auth, workload_id, deployment, paused_after_canary)
        # A probe on the finished canary: any apply there would put the real digest back.
        canary = (await objects(stack, workload_id))[nodes[0]]
        probe = {"metadata": {"annotations": {SPEC_DIGEST: "probe"}}}
        await asyncio.to_thread(
            k8s.AppsV1Api(stack.kube.api_client).patch_namespaced_deployment,
            canary["metadata"]["name"],
            "default",
            probe,
            _content_type=MERGE_PATCH,
            _preload_content=False,
        )
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        worker = start_worker(stack)
        assert (await stack.http.post(f"{steer}/resume", headers=auth)).status_code == 200
        view = await until(stack, auth, workload_id, deployment)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    assert view["state"] == "completed", view
    assert view["progress"]["waves_done"] == 3
    placed = await objects(stack, workload_id)
    assert sorted(placed) == nodes
    assert placed[nodes[0]]["metadata"]["annotations"][SPEC_DIGEST] == "probe"
    assert placed[nodes[0]]["metadata"]["generation"] == canary["metadata"]["generation"]
    for node in nodes[1:]:
        assert placed[node]["metadata"]["annotations"][SPEC_DIGEST] != "probe"
    assert {revision_of(obj) for obj in placed.values()} == {"1"}


async def test_bad_placement_and_unknown_nodes_are_400s(stack: Stack) -> None:
    auth = await stack.login()
    tag = uuid.uuid4().hex[:6]
    bad_constraints = [
        {"key": "zone", "operator": "Near", "values": ["a"]},
        {"key": "zone", "operator": "In", "values": []},
        {"key": "zone", "operator": "Exists", "values": ["a"]},
        {"key": "bad key!", "operator": "Exists"},
    ]
    for constraint in bad_constraints:
        body = {
            "name": f"bad-{tag}",
            "image": "nginx:1.27",
            "placement": {"strategy": "edge-first", "constraints": [constraint]},
        }
        answer = await stack.http.post(V1, json=body, headers=auth)
        assert answer.status_code == 400, (constraint, answer.text)
        assert answer.json()["code"] == "BAD_REQUEST"  # the Edge API's envelope
    listed = (await stack.http.get(V1, headers=auth)).json()["workloads"]
    assert not [w for w in listed if w["name"] == f"bad-{tag}"]

    workload_id = await create_workload(stack, auth, name=f"ok-{tag}", image="nginx:1.27")
    unknown = await stack.http.post(
        f"{V1}/{workload_id}/deploy", json={"nodes": [f"nowhere-{tag}"]}, headers=auth
    )
    assert unknown.status_code == 400, unknown.text
    assert unknown.json()["details"]["unknown_nodes"] == [f"nowhere-{tag}"]
    detail = await workload(stack, auth, workload_id)
    assert (detail["status"], detail["rollout"]) == ("created", None)
