"""Kubernetes side of workload rollouts: targets, prior state, waves, gates, rollback, removal.

A wave is one activity: its nodes are applied concurrently (a small thread pool; the
official client is sync), each idempotently: create, or patch our existing object only
when its spec digest differs, adopting a 409 from a concurrent create. A node whose apply
fails for good (someone else's object, a rejected body) is reported failed, not raised;
the activity raises (and is retried) only when every node failed transiently, which means
the API itself is in trouble. The gate is async: it polls the wave's objects, heartbeats,
and stops the moment the workflow cancels it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.workloads.nodes import NodeWriter
from adapters.kubernetes.client import KubeTarget
from adapters.kubernetes.errors import kube_errors
from adapters.kubernetes.workload_health import Health, health
from adapters.kubernetes.workload_manifests import APPS_KUBEEDGE, labels_of, revision_of, spec_of
from adapters.kubernetes.workload_objects import (
    DEPLOYMENT,
    EDGE_APPLICATION,
    NODE,
    SERVICE,
    STATEFULSET,
    WorkloadObjects,
)
from workflows.contracts.common import EDGE_ROLE_LABEL, NODE_LABEL
from workflows.contracts.workloads import (
    ApplyWaveInput,
    GateInput,
    NodeSetOutcome,
    PlacementStrategy,
    PriorObjects,
    PriorsInput,
    RollbackInput,
    TargetsInput,
    WaveResult,
    WorkloadActivity,
    WorkloadKind,
    WorkloadMode,
    WorkloadRemovalInput,
)

CONCURRENCY = 8  # the client's connection pool holds 10 per host by default
FIRST_GATE_POLL_SECONDS = 0.5


class WorkloadKubeActivities:
    def __init__(self, *, target: KubeTarget, concurrency: int = CONCURRENCY) -> None:
        self._objects = WorkloadObjects(target.api_client)
        self._writer = NodeWriter(self._objects)
        self._concurrency = concurrency

    @activity.defn(name=WorkloadActivity.DETECT_MODE)
    def detect_mode(self) -> WorkloadMode:
        """EdgeApplication mode when discovery lists KubeEdge's EdgeApplication and NodeGroup."""
        group, version = APPS_KUBEEDGE
        with kube_errors(action="discover", kind="API group", name=f"{group}/{version}"):
            found = self._objects.serves(group, version, {"edgeapplications", "nodegroups"})
        return WorkloadMode.EDGE_APPLICATION if found else WorkloadMode.DEPLOYMENT

    @activity.defn(name=WorkloadActivity.LIST_TARGETS)
    def list_targets(self, inp: TargetsInput) -> list[str]:
        """Nodes the placement admits, by name: edge nodes, or (edge-first) cloud nodes when
        no edge node matches."""
        edge: list[str] = []
        cloud: list[str] = []
        with kube_errors(action="list", kind="Node", name="*"):
            for node in self._objects.list(NODE, None):
                labels = labels_of(node)
                name = (node.get("metadata") or {}).get("name")
                if name and inp.placement.admits(labels):
                    (edge if EDGE_ROLE_LABEL in labels else cloud).append(str(name))
        if edge or inp.placement.strategy is PlacementStrategy.EDGE_ONLY:
            return sorted(edge)
        return sorted(cloud)

    @activity.defn(name=WorkloadActivity.READ_PRIORS)
    def read_priors(self, inp: PriorsInput) -> PriorObjects:
        """What each target runs now: revision by node, and each revision's spec once."""
        wanted = set(inp.nodes)
        kinds = (
            (EDGE_APPLICATION,)
            if inp.mode is WorkloadMode.EDGE_APPLICATION
            else (DEPLOYMENT, STATEFULSET)
        )
        revisions: dict[str, int] = {}
        specs = {}
        for kind in kinds:
            with kube_errors(action="list", kind=kind.kind, name="*", namespace=inp.spec.namespace):
                for obj in self._objects.list_workload(kind, inp.spec.namespace, inp.workload_id):
                    node, revision = labels_of(obj).get(NODE_LABEL), revision_of(obj)
                    if node not in wanted or revision is None:
                        continue
                    # Both kinds for one node: a kind switch half done; the newer one counts.
                    if revision >= revisions.get(node, 0):
                        revisions[node] = revision
                        spec = spec_of(obj)
                        if spec is not None:
                            specs[revision] = spec
        return PriorObjects(revisions=revisions, specs=specs)

    @activity.defn(name=WorkloadActivity.APPLY_WAVE)
    def apply_wave(self, inp: ApplyWaveInput) -> NodeSetOutcome:
        def apply(node: str) -> None:
            self._writer.put(
                workload_id=inp.workload_id,
                revision=inp.revision,
                spec=inp.spec,
                node=node,
                mode=inp.mode,
            )

        return self._each(inp.nodes, apply, what="apply")

    @activity.defn(name=WorkloadActivity.ROLL_BACK)
    def roll_back(self, inp: RollbackInput) -> NodeSetOutcome:
        """Put each node back to its PriorObject: its earlier revision, or nothing."""
        priors = {prior.node_name: prior for prior in inp.priors}

        def restore(node: str) -> None:
            prior = priors[node]
            if prior.revision is None:
                self._writer.remove(workload_id=inp.workload_id, spec=inp.spec, node=node)
                return
            if prior.spec is None:
                raise ApplicationError(
                    f"revision {prior.revision}'s spec is unknown; {node} was left as it is",
                    non_retryable=True,
                )
            self._writer.put(
                workload_id=inp.workload_id,
                revision=prior.revision,
                spec=prior.spec,
                node=node,
                mode=inp.mode,
            )

        return self._each(list(priors), restore, what="roll back")

    @activity.defn(name=WorkloadActivity.GATE_WAVE)
    async def gate_wave(self, inp: GateInput) -> WaveResult:
        """Wait until every node of the wave is ready or failed, or the deadline passes."""
        verdicts: dict[str, tuple[Health, str]] = {}
        # Look again soon, then back off to poll_seconds: a quick wave is seen at once, a
        # slow one costs one list call every poll_seconds.
        interval = min(FIRST_GATE_POLL_SECONDS, inp.poll_seconds)
        while True:
            verdicts = await asyncio.to_thread(self._verdicts, inp)
            undecided = [node for node, (state, _) in verdicts.items() if state is Health.PENDING]
            ready = [node for node, (state, _) in verdicts.items() if state is Health.READY]
            activity.heartbeat({"ready": len(ready), "pending": len(undecided)})
            if not undecided or datetime.now(UTC) >= inp.deadline:
                break
            remaining = (inp.deadline - datetime.now(UTC)).total_seconds()
            await asyncio.sleep(max(0.0, min(interval, remaining)))
            interval = min(interval * 1.5, inp.poll_seconds)
        failed = {
            node: why if state is Health.FAILED else f"not ready by the gate's deadline ({why})"
            for node, (state, why) in verdicts.items()
            if state is not Health.READY
        }
        ready = [node for node in inp.nodes if node not in failed]
        return WaveResult(index=inp.index, ready=ready, failed=failed)

    @activity.defn(name=WorkloadActivity.DELETE_OBJECTS)
    def delete_objects(self, inp: WorkloadRemovalInput) -> list[str]:
        """Delete every object labelled with the workload, EdgeApplications first (their
        controller would otherwise recreate what they generated). NodeGroups are per node
        and shared by workloads: they stay."""
        deleted = []
        kinds = [EDGE_APPLICATION, DEPLOYMENT, STATEFULSET, SERVICE]
        group, version = APPS_KUBEEDGE
        with kube_errors(action="discover", kind="API group", name=f"{group}/{version}"):
            if not self._objects.serves(group, version, {"edgeapplications"}):
                kinds.remove(EDGE_APPLICATION)
        for kind in kinds:
            with kube_errors(action="delete", kind=kind.kind, name="*", namespace=inp.namespace):
                for obj in list(self._objects.list_workload(kind, inp.namespace, inp.workload_id)):
                    if self._objects.delete(kind, obj):
                        deleted.append(f"{kind.kind} {inp.namespace}/{obj['metadata']['name']}")
                    activity.heartbeat(len(deleted))
        return deleted

    # --- helpers -------------------------------------------------------------------

    def _verdicts(self, inp: GateInput) -> dict[str, tuple[Health, str]]:
        kind = STATEFULSET if inp.spec.kind is WorkloadKind.STATEFULSET else DEPLOYMENT
        wanted = set(inp.nodes)
        found = {}
        with kube_errors(action="list", kind=kind.kind, name="*", namespace=inp.spec.namespace):
            for obj in self._objects.list_workload(kind, inp.spec.namespace, inp.workload_id):
                node = labels_of(obj).get(NODE_LABEL)
                if node in wanted:
                    found[node] = obj
        return {node: health(found.get(node), revision=inp.revision) for node in inp.nodes}

    def _each(
        self, nodes: Iterable[str], step: Callable[[str], None], *, what: str
    ) -> NodeSetOutcome:
        nodes = list(nodes)
        failed: dict[str, str] = {}
        transient: list[ApplicationError] = []

        def run(node: str) -> None:
            try:
                step(node)
            except ApplicationError as err:
                failed[node] = str(err)
                if not err.non_retryable:
                    transient.append(err)

        with ThreadPoolExecutor(max_workers=self._concurrency) as pool:
            for index, _ in enumerate(pool.map(run, nodes)):
                if index % 20 == 0:
                    activity.heartbeat(index)
        if nodes and len(transient) == len(nodes):
            raise ApplicationError(
                f"could not {what} any of {len(nodes)} nodes: {transient[0]}",
                type=transient[0].type,
            )
        done = [node for node in nodes if node not in failed]
        return NodeSetOutcome(done=done, failed=failed)
