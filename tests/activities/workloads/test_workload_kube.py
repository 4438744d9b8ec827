"""WorkloadKubeActivities against the Kubernetes sandbox, with the tests playing kubelet."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from temporalio.testing import ActivityEnvironment

from activities.workloads.kube import WorkloadKubeActivities
from adapters.kubernetes.client import KubeTarget
from adapters.kubernetes.workload_manifests import node_group_name
from tests.support.kube_fixtures import (
    MERGE_PATCH,
    make_node_ready,
    running_sandbox,
    sandbox_api_client,
)
from workflows.contracts.workloads import (
    HOSTNAME_LABEL,
    REVISION_LABEL,
    WORKLOAD_FAILED_CONDITION,
    ApplyWaveInput,
    GateInput,
    Placement,
    PlacementConstraint,
    PlacementStrategy,
    PriorObject,
    PriorsInput,
    RollbackInput,
    ServicePort,
    TargetsInput,
    WorkloadKind,
    WorkloadMode,
    WorkloadRemovalInput,
    WorkloadSpec,
    workload_object_name,
)

env = ActivityEnvironment()


class Rig:
    def __init__(self, url: str) -> None:
        self.api = sandbox_api_client(url)
        target = KubeTarget(mode="sandbox", description="test sandbox", api_client=self.api)
        self.kube = WorkloadKubeActivities(target=target)
        self.apps = client.AppsV1Api(self.api)
        self.core = client.CoreV1Api(self.api)
        self.custom = client.CustomObjectsApi(self.api)
        self.tag = uuid.uuid4().hex[:8]
        self.namespace = f"wl-{self.tag}"
        self.workload_id = str(uuid.uuid4())
        self.nodes = [f"n{self.tag}-{i}" for i in range(3)]

    def spec(self, image: str = "nginx:1.26", **changes: Any) -> WorkloadSpec:
        return WorkloadSpec(name="web", namespace=self.namespace, image=image, **changes)

    def apply(self, revision: int, spec: WorkloadSpec, nodes: list[str], mode: WorkloadMode) -> Any:
        inp = ApplyWaveInput(
            workload_id=self.workload_id, revision=revision, spec=spec, mode=mode, nodes=nodes
        )
        return env.run(self.kube.apply_wave, inp)

    async def gate(
        self, revision: int, spec: WorkloadSpec, nodes: list[str], seconds: float
    ) -> Any:
        inp = GateInput(
            workload_id=self.workload_id,
            revision=revision,
            spec=spec,
            index=0,
            nodes=nodes,
            deadline=datetime.now(UTC) + timedelta(seconds=seconds),
            poll_seconds=0.05,
        )
        return await env.run(self.kube.gate_wave, inp)

    def deployment(self, node: str) -> dict[str, Any] | None:
        name = workload_object_name("web", node)
        found = self.apps.list_namespaced_deployment(self.namespace, _preload_content=False)
        for item in json.loads(found.data)["items"]:
            meta = item["metadata"]
            if meta["name"] == name and meta.get("namespace") == self.namespace:
                return dict(item)
        return None

    def report(self, node: str, **status: Any) -> None:
        """What a kubelet and the Deployment controller would report."""
        name = workload_object_name("web", node)
        body = {"status": status}
        self.apps.patch_namespaced_deployment_status(
            name, self.namespace, body, _content_type=MERGE_PATCH
        )


@pytest.fixture
def rig(kube_sandbox_url: str) -> Rig:
    return Rig(kube_sandbox_url)


def _ready(generation: int, replicas: int = 1) -> dict[str, Any]:
    return {
        "observedGeneration": generation,
        "replicas": replicas,
        "readyReplicas": replicas,
        "updatedReplicas": replicas,
    }


async def test_apply_is_idempotent_and_pins_each_object_to_its_node(rig: Rig) -> None:
    spec = rig.spec(ports=[ServicePort(container_port=8080, service_ports={rig.nodes[0]: 5001})])
    outcome = rig.apply(1, spec, rig.nodes[:2], WorkloadMode.DEPLOYMENT)
    assert outcome.done == rig.nodes[:2]
    assert outcome.failed == {}
    first = rig.deployment(rig.nodes[0])
    assert first is not None
    assert first["metadata"]["generation"] == 1
    assert first["metadata"]["labels"][REVISION_LABEL] == "1"
    pod = first["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {HOSTNAME_LABEL: rig.nodes[0]}
    assert pod["containers"][0]["image"] == "nginx:1.26"
    service = rig.core.read_namespaced_service(
        workload_object_name("web-p8080", rig.nodes[0]), rig.namespace
    )
    assert service.spec.ports[0].port == 5001

    again = rig.apply(1, spec, rig.nodes[:2], WorkloadMode.DEPLOYMENT)
    assert again.done == rig.nodes[:2]
    assert rig.deployment(rig.nodes[0]) == first  # nothing was written


async def test_the_gate_sees_ready_failed_and_late_nodes(rig: Rig) -> None:
    spec = rig.spec()
    rig.apply(1, spec, rig.nodes, WorkloadMode.DEPLOYMENT)
    ready, failed, late = rig.nodes
    rig.report(ready, **_ready(1))
    condition = {"type": WORKLOAD_FAILED_CONDITION, "status": "True", "reason": "CrashLoopBackOff"}
    rig.report(failed, observedGeneration=1, conditions=[condition])
    result = await rig.gate(1, spec, rig.nodes, seconds=0.5)
    assert result.ready == [ready]
    assert result.failed[failed] == "CrashLoopBackOff"
    assert "not ready by the gate's deadline" in result.failed[late]

    # A new revision bumps the generation: the old status no longer counts as ready.
    newer = rig.spec(image="nginx:1.27")
    rig.apply(2, newer, [ready], WorkloadMode.DEPLOYMENT)
    deployment = rig.deployment(ready)
    assert deployment is not None
    assert deployment["metadata"]["generation"] == 2
    stale = await rig.gate(2, newer, [ready], seconds=0.2)
    assert "generation 1, not 2" in stale.failed[ready]
    rig.report(ready, **_ready(2))
    assert (await rig.gate(2, newer, [ready], seconds=5)).ready == [ready]


async def test_rollback_restores_the_prior_revision_or_removes(rig: Rig) -> None:
    old, new = rig.spec(image="nginx:1.26"), rig.spec(image="nginx:1.27", replicas=2)
    kept, fresh = rig.nodes[0], rig.nodes[1]
    rig.apply(1, old, [kept], WorkloadMode.DEPLOYMENT)
    priors_in = PriorsInput(
        workload_id=rig.workload_id, spec=new, mode=WorkloadMode.DEPLOYMENT, nodes=[kept, fresh]
    )
    priors = env.run(rig.kube.read_priors, priors_in)
    assert priors.revisions == {kept: 1}
    assert priors.specs == {1: old}

    rig.apply(2, new, [kept, fresh], WorkloadMode.DEPLOYMENT)
    rollback = RollbackInput(
        workload_id=rig.workload_id,
        spec=new,
        mode=WorkloadMode.DEPLOYMENT,
        priors=[priors.of(kept), priors.of(fresh)],
    )
    outcome = env.run(rig.kube.roll_back, rollback)
    assert outcome.done == [kept, fresh]
    restored = rig.deployment(kept)
    assert restored is not None
    assert restored["metadata"]["labels"][REVISION_LABEL] == "1"
    assert restored["spec"]["replicas"] == 1
    assert restored["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"
    assert rig.deployment(fresh) is None
    # Rolling back twice changes nothing more.
    assert env.run(rig.kube.roll_back, rollback).done == [kept, fresh]


async def test_a_kind_switch_replaces_the_object_and_rollback_switches_back(rig: Rig) -> None:
    node = rig.nodes[0]
    deployment, statefulset = rig.spec(), rig.spec(kind=WorkloadKind.STATEFULSET)
    rig.apply(1, deployment, [node], WorkloadMode.DEPLOYMENT)
    rig.apply(2, statefulset, [node], WorkloadMode.DEPLOYMENT)
    assert rig.deployment(node) is None
    name = workload_object_name("web", node)
    assert rig.apps.read_namespaced_stateful_set(name, rig.namespace).spec.service_name == name
    prior = PriorObject(node_name=node, revision=1, spec=deployment)
    rollback = RollbackInput(
        workload_id=rig.workload_id, spec=statefulset, mode=WorkloadMode.DEPLOYMENT, priors=[prior]
    )
    env.run(rig.kube.roll_back, rollback)
    assert rig.deployment(node) is not None
    with pytest.raises(client.exceptions.ApiException):
        rig.apps.read_namespaced_stateful_set(name, rig.namespace)


async def test_someone_elses_object_fails_that_node_only(rig: Rig) -> None:
    theirs, ours = rig.nodes[0], rig.nodes[1]
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": workload_object_name("web", theirs), "namespace": rig.namespace},
        "spec": {"replicas": 1},
    }
    rig.apps.create_namespaced_deployment(rig.namespace, body, _preload_content=False)
    outcome = rig.apply(1, rig.spec(), [theirs, ours], WorkloadMode.DEPLOYMENT)
    assert outcome.done == [ours]
    assert "not this workload's" in outcome.failed[theirs]


async def test_removal_deletes_everything_the_workload_made(rig: Rig) -> None:
    spec = rig.spec(ports=[ServicePort(container_port=80, service_ports={rig.nodes[0]: 5002})])
    rig.apply(1, spec, rig.nodes, WorkloadMode.DEPLOYMENT)
    removal = WorkloadRemovalInput(workload_id=rig.workload_id, namespace=rig.namespace)
    deleted = env.run(rig.kube.delete_objects, removal)
    assert len(deleted) == len(rig.nodes) + 1  # three Deployments and one Service
    assert all(rig.deployment(node) is None for node in rig.nodes)
    assert env.run(rig.kube.delete_objects, removal) == []


async def test_targets_follow_the_placement(rig: Rig) -> None:
    edge = [f"e{rig.tag}-{i}" for i in range(3)]
    cloud = f"c{rig.tag}"
    for node in edge:
        make_node_ready(rig.api, node)
    rig.core.create_node({"metadata": {"name": cloud, "labels": {"zone": rig.tag}}})
    for node in edge[:2]:
        rig.core.patch_node(
            node, {"metadata": {"labels": {"zone": rig.tag}}}, _content_type=MERGE_PATCH
        )
    zone = PlacementConstraint(key="zone", operator="In", values=[rig.tag])
    targets = env.run(rig.kube.list_targets, TargetsInput(placement=Placement(constraints=[zone])))
    assert targets == sorted(edge[:2])
    # No edge node matches: edge-first falls back to matching cloud nodes, edge-only does not.
    only_cloud = [
        zone,
        PlacementConstraint(key="node-role.kubernetes.io/edge", operator="DoesNotExist"),
    ]
    first = Placement(constraints=only_cloud)
    assert env.run(rig.kube.list_targets, TargetsInput(placement=first)) == [cloud]
    strict = Placement(strategy=PlacementStrategy.EDGE_ONLY, constraints=only_cloud)
    assert env.run(rig.kube.list_targets, TargetsInput(placement=strict)) == []


# --- EdgeApplication mode, in a sandbox of its own (the CRDs would change every test) -----


def _crd(plural: str, kind: str, scope: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.apps.kubeedge.io"},
        "spec": {
            "group": "apps.kubeedge.io",
            "names": {"plural": plural, "kind": kind, "singular": kind.lower()},
            "scope": scope,
            "versions": [{"name": "v1alpha1", "served": True, "storage": True}],
        },
    }


@pytest.fixture
def kubeedge_url(tmp_path: Path) -> Iterator[str]:
    with running_sandbox(state_path=tmp_path / "sandbox.json") as url:
        yield url


async def test_edge_application_mode_when_the_crds_are_registered(kubeedge_url: str) -> None:
    rig = Rig(kubeedge_url)
    assert env.run(rig.kube.detect_mode) is WorkloadMode.DEPLOYMENT
    extensions = client.ApiextensionsV1Api(rig.api)
    extensions.create_custom_resource_definition(
        _crd("edgeapplications", "EdgeApplication", "Namespaced")
    )
    extensions.create_custom_resource_definition(_crd("nodegroups", "NodeGroup", "Cluster"))
    assert env.run(rig.kube.detect_mode) is WorkloadMode.EDGE_APPLICATION

    node = rig.nodes[0]
    spec = rig.spec()
    assert rig.apply(1, spec, [node], WorkloadMode.EDGE_APPLICATION).done == [node]
    assert rig.apply(1, spec, [node], WorkloadMode.EDGE_APPLICATION).done == [node]
    group = rig.custom.get_cluster_custom_object(
        "apps.kubeedge.io", "v1alpha1", "nodegroups", node_group_name(node)
    )
    assert group["spec"] == {"nodes": [node]}
    name = workload_object_name("web", node)
    app = rig.custom.get_namespaced_custom_object(
        "apps.kubeedge.io", "v1alpha1", rig.namespace, "edgeapplications", name
    )
    assert app["metadata"]["generation"] == 1
    assert app["spec"]["workloadScope"]["targetNodeGroups"] == [{"name": node_group_name(node)}]
    manifest = app["spec"]["workloadTemplate"]["manifests"][0]
    assert manifest["kind"] == "Deployment"
    assert manifest["spec"]["template"]["spec"]["nodeSelector"] == {HOSTNAME_LABEL: node}

    priors = PriorsInput(
        workload_id=rig.workload_id, spec=spec, mode=WorkloadMode.EDGE_APPLICATION, nodes=[node]
    )
    assert env.run(rig.kube.read_priors, priors).revisions == {node: 1}
    rollback = RollbackInput(
        workload_id=rig.workload_id,
        spec=spec,
        mode=WorkloadMode.EDGE_APPLICATION,
        priors=[PriorObject(node_name=node, revision=None)],
    )
    assert env.run(rig.kube.roll_back, rollback).done == [node]
    removal = WorkloadRemovalInput(workload_id=rig.workload_id, namespace=rig.namespace)
    assert env.run(rig.kube.delete_objects, removal) == []  # the rollback removed it already
