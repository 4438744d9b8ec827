"""The sandbox's stand-in for the kubelet and the workload controllers of simulated nodes.

The sandbox runs no controller for workloads (only CloudCore's), so nothing would report
a Deployment or StatefulSet ready. For the nodes a fleet plays, `WorkloadReporter` lists
(once per tick, across namespaces) the objects edgewright manages, and for each one
pinned to one of those nodes writes the status the Deployment/StatefulSet controller and
the node's kubelet would:
ready at the object's current generation while the device is online, not ready while it
is offline (the node lifecycle controller marks an unreachable node's pods NotReady).

It can be steered per node, as the fleet's control topic does with
`{"workloads": "fail" | "hold" | "ok", "image": "..."}`: `fail` reports the objects failed
(condition WORKLOAD_FAILED_CONDITION, as a crash-looping container would end up), all of
them or only those running `image`; `hold` writes nothing, like a kubelet that is slow to
start pods; `ok` undoes both (only the `image` failure when an image is named).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client

from workflows.contracts.common import MANAGED_BY, MANAGED_BY_LABEL, NODE_LABEL
from workflows.contracts.workloads import HOSTNAME_LABEL, WORKLOAD_FAILED_CONDITION

log = logging.getLogger(__name__)

MERGE_PATCH = "application/merge-patch+json"
MANAGED_SELECTOR = f"{MANAGED_BY_LABEL}={MANAGED_BY}"
DEPLOYMENT = "Deployment"
STATEFULSET = "StatefulSet"


@dataclass
class WorkloadFaults:
    """How each node's workloads misbehave, as the control topic asked."""

    # node -> images whose containers fail there; an empty set: every image fails.
    failing: dict[str, set[str]] = field(default_factory=dict)
    held: set[str] = field(default_factory=set)

    def steer(self, node_name: str, order: Mapping[str, object]) -> None:
        """Apply a control message's `workloads` / `image` keys (others are not ours)."""
        what = order.get("workloads")
        image = order.get("image")
        image = str(image) if isinstance(image, str) and image else None
        if what == "fail":
            if image is None:
                self.failing[node_name] = set()
            elif node_name not in self.failing:
                self.failing[node_name] = {image}
            elif self.failing[node_name]:  # an empty set (every image) covers it already
                self.failing[node_name].add(image)
        elif what == "hold":
            self.held.add(node_name)
        elif what == "ok":
            self.held.discard(node_name)
            images = self.failing.get(node_name)
            if image is None or images is None:
                self.failing.pop(node_name, None)
            elif images:
                images.discard(image)
                if not images:
                    del self.failing[node_name]

    def failure(self, node_name: str, images: Iterable[str]) -> str | None:
        """Why the node's object running `images` fails, or None when it does not."""
        if node_name not in self.failing:
            return None
        failing = self.failing[node_name]
        if not failing:
            return "the simulator was told to fail workloads on this node"
        bad = sorted(failing.intersection(images))
        if bad:
            return f"the simulator was told to fail image {bad[0]} on this node"
        return None


def node_of(obj: Mapping[str, Any]) -> str | None:
    """The node an object is pinned to: our node label, else its pods' hostname selector."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    if labels.get(NODE_LABEL):
        return str(labels[NODE_LABEL])
    pod_spec = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    pinned = (pod_spec.get("nodeSelector") or {}).get(HOSTNAME_LABEL)
    return str(pinned) if pinned else None


def images_of(obj: Mapping[str, Any]) -> list[str]:
    pod_spec = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    containers = [*(pod_spec.get("containers") or []), *(pod_spec.get("initContainers") or [])]
    return [str(c["image"]) for c in containers if c.get("image")]


def _condition(kind: str, status: bool, reason: str, message: str) -> dict[str, str]:
    return {
        "type": kind,
        "status": "True" if status else "False",
        "reason": reason,
        "message": message,
    }


def desired_status(obj: Mapping[str, Any], *, online: bool, failure: str | None) -> dict[str, Any]:
    """The status the controllers and the kubelet would report for `obj` now."""
    spec = obj.get("spec") or {}
    replicas = int(spec.get("replicas", 1))
    ready = replicas if online and failure is None else 0
    status: dict[str, Any] = {
        "replicas": replicas,
        "readyReplicas": ready,
        "availableReplicas": ready,
        # Pods of the current template exist once the node runs them, healthy or not.
        "updatedReplicas": replicas if online else 0,
    }
    generation = (obj.get("metadata") or {}).get("generation")
    if generation is not None:
        status["observedGeneration"] = int(generation)
    conditions = []
    if obj.get("kind") != STATEFULSET:  # StatefulSets report no such conditions
        if ready >= replicas:
            available = _condition("Available", True, "MinimumReplicasAvailable", "ready")
            progressing = _condition("Progressing", True, "NewReplicaSetAvailable", "rolled out")
        else:
            why = "node unreachable" if not online else "pods not ready"
            available = _condition("Available", False, "MinimumReplicasUnavailable", why)
            progressing = _condition("Progressing", True, "ReplicaSetUpdated", why)
        conditions += [available, progressing]
    else:
        status["currentReplicas"] = status["updatedReplicas"]
    if failure is not None and online:
        conditions.append(_condition(WORKLOAD_FAILED_CONDITION, True, "SimulatedFailure", failure))
    status["conditions"] = conditions
    return status


def _condition_keys(conditions: Iterable[Mapping[str, Any]]) -> set[tuple[str, str, str]]:
    return {(str(c.get("type")), str(c.get("status")), str(c.get("reason"))) for c in conditions}


def behind(current: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    """Whether `current` differs from `desired` in anything but condition timestamps."""
    for key, value in desired.items():
        if key == "conditions":
            if _condition_keys(current.get("conditions") or []) != _condition_keys(value):
                return True
        elif current.get(key, 0 if isinstance(value, int) else None) != value:
            return True
    return False


class WorkloadReporter:
    """Reports the status of edgewright's workload objects on the nodes a fleet plays."""

    def __init__(
        self, *, api_client: client.ApiClient, interval: float = 1.0, concurrency: int = 8
    ) -> None:
        self._apps = client.AppsV1Api(api_client)
        self._interval = interval
        self._slots = asyncio.Semaphore(concurrency)
        self.faults = WorkloadFaults()

    def steer(self, node_name: str, order: Mapping[str, object]) -> None:
        self.faults.steer(node_name, order)

    async def run(self, nodes: Callable[[], Iterable[tuple[str, bool]]]) -> None:
        """Every `interval`, bring the status of every object on `nodes` (name, online) up."""
        while True:
            try:
                await self.tick(dict(nodes()))
            except Exception:  # the sandbox restarting must not stop the loop
                log.exception("could not report workload status")
            await asyncio.sleep(self._interval)

    async def tick(self, nodes: Mapping[str, bool]) -> int:
        """One pass over `nodes` (name -> online); returns how many statuses it wrote."""
        if not nodes:
            return 0
        listed = await asyncio.gather(
            asyncio.to_thread(self._list, DEPLOYMENT), asyncio.to_thread(self._list, STATEFULSET)
        )
        writes = []
        for kind, items in zip((DEPLOYMENT, STATEFULSET), listed, strict=True):
            for obj in items:
                obj.setdefault("kind", kind)
                node = node_of(obj)
                if node is None or node not in nodes or node in self.faults.held:
                    continue
                labels = (obj.get("metadata") or {}).get("labels") or {}
                if labels.get(MANAGED_BY_LABEL) != MANAGED_BY:
                    continue  # the selector is a hint the sandbox ignores
                failure = self.faults.failure(node, images_of(obj))
                desired = desired_status(obj, online=nodes[node], failure=failure)
                if behind(obj.get("status") or {}, desired):
                    writes.append(self._write(obj, desired))
        await asyncio.gather(*writes)
        return len(writes)

    def _list(self, kind: str) -> list[dict[str, Any]]:
        # Raw JSON: the client's models cost more than the rest of a tick at 500 objects.
        lister = (
            self._apps.list_deployment_for_all_namespaces
            if kind == DEPLOYMENT
            else self._apps.list_stateful_set_for_all_namespaces
        )
        answer = lister(label_selector=MANAGED_SELECTOR, _preload_content=False)
        items: list[dict[str, Any]] = json.loads(answer.data).get("items") or []
        return items

    async def _write(self, obj: Mapping[str, Any], status: dict[str, Any]) -> None:
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        for condition in status["conditions"]:
            condition["lastUpdateTime"] = condition["lastTransitionTime"] = now
        metadata = obj["metadata"]
        patch = (
            self._apps.patch_namespaced_deployment_status
            if obj["kind"] == DEPLOYMENT
            else self._apps.patch_namespaced_stateful_set_status
        )
        async with self._slots:
            try:
                await asyncio.to_thread(
                    patch,
                    metadata["name"],
                    metadata["namespace"],
                    {"status": status},
                    _content_type=MERGE_PATCH,
                    _preload_content=False,
                )
            except client.ApiException as exc:
                if exc.status != 404:  # deleted since the list: nothing left to report
                    raise
