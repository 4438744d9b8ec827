"""Read Kubernetes objects into the facts we keep: pure functions of JSON bodies.

Node facts follow what `kubectl get nodes` shows (Ready from the Ready condition, roles
from `node-role.kubernetes.io/*` labels, kubelet version, addresses); CloudCore's snapshot
what `kubectl get deploy,pods,svc` in its namespace shows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from store.devices.node_facts import NodeFacts
from workflows.contracts.common import NODE_ROLE_PREFIX

Body = dict[str, Any]

# Enough to show what runs on a device; the count (pods_count) is always exact.
MAX_APPS_PER_NODE = 50
_FINISHED_PHASES = {"Succeeded", "Failed"}
_LEGACY_ROLE_LABEL = "kubernetes.io/role"
CLOUDCORE_NAME = "cloudcore"
CLOUDCORE_POD_LABELS = {"kubeedge": "cloudcore"}  # what keadm's chart puts on its pods


def parse_time(value: object) -> datetime | None:
    """An RFC 3339 timestamp as Kubernetes writes it; None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _meta(obj: Mapping[str, Any]) -> Body:
    return dict(obj.get("metadata") or {})


def roles(labels: Mapping[str, str]) -> list[str]:
    found = {key[len(NODE_ROLE_PREFIX) :] for key in labels if key.startswith(NODE_ROLE_PREFIX)}
    if labels.get(_LEGACY_ROLE_LABEL):
        found.add(labels[_LEGACY_ROLE_LABEL])
    return sorted(role for role in found if role)


def _ready_condition(node: Mapping[str, Any]) -> Body | None:
    conditions = (node.get("status") or {}).get("conditions") or []
    return next((dict(c) for c in conditions if c.get("type") == "Ready"), None)


def active_pods_by_node(pods: Iterable[Mapping[str, Any]]) -> dict[str, list[Body]]:
    """Pods bound to a node and not finished, grouped by node name."""
    grouped: dict[str, list[Body]] = defaultdict(list)
    for pod in pods:
        node = (pod.get("spec") or {}).get("nodeName")
        phase = (pod.get("status") or {}).get("phase")
        if node and phase not in _FINISHED_PHASES:
            grouped[node].append(dict(pod))
    return grouped


def app_of(pod: Mapping[str, Any]) -> Body:
    """A pod as the CloudCore document shows an application: name, status, image, port."""
    meta = _meta(pod)
    containers = (pod.get("spec") or {}).get("containers") or [{}]
    first = containers[0]
    ports = first.get("ports") or [{}]
    status = "Terminating" if meta.get("deletionTimestamp") else None
    return {
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "status": status or (pod.get("status") or {}).get("phase") or "Unknown",
        "image": first.get("image"),
        "port": ports[0].get("containerPort"),
    }


def node_facts(node: Mapping[str, Any], pods: list[Body]) -> NodeFacts:
    meta, status = _meta(node), node.get("status") or {}
    ready = _ready_condition(node) or {}
    addresses = [
        {"type": str(a.get("type")), "address": str(a.get("address"))}
        for a in status.get("addresses") or []
        if a.get("address")
    ]
    return NodeFacts(
        node_name=str(meta.get("name")),
        ready=ready.get("status") == "True",
        roles=roles(meta.get("labels") or {}),
        version=(status.get("nodeInfo") or {}).get("kubeletVersion") or None,
        addresses=addresses,
        pods=len(pods),
        apps=[app_of(pod) for pod in pods[:MAX_APPS_PER_NODE]],
        created_at=parse_time(meta.get("creationTimestamp")),
        ready_since=parse_time(ready.get("lastTransitionTime")),
        heartbeat_at=parse_time(ready.get("lastHeartbeatTime")),
    )


# --- CloudCore -------------------------------------------------------------------------


def version_of(image: str | None) -> str | None:
    """ "kubeedge/cloudcore:v1.18.0" -> "1.18.0" (the document shows versions without v)."""
    if not image or ":" not in image.rsplit("/", 1)[-1]:
        return None
    return image.rsplit(":", 1)[1].removeprefix("v") or None


def _matches(labels: Mapping[str, str], selector: Mapping[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _pod_row(pod: Mapping[str, Any]) -> Body:
    meta, status = _meta(pod), pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    containers = (pod.get("spec") or {}).get("containers") or []
    ready = sum(1 for s in statuses if s.get("ready"))
    return {
        "name": meta.get("name"),
        "status": "Terminating" if meta.get("deletionTimestamp") else status.get("phase"),
        "ready": f"{ready}/{len(containers) or len(statuses)}",
        "restarts": sum(int(s.get("restartCount") or 0) for s in statuses),
        "created_at": meta.get("creationTimestamp"),
        "node_name": (pod.get("spec") or {}).get("nodeName"),
    }


def _service_row(service: Mapping[str, Any]) -> Body:
    spec = service.get("spec") or {}
    ports = [
        {
            "name": port.get("name"),
            "port": port.get("port"),
            "nodePort": port.get("nodePort"),
            "protocol": port.get("protocol") or "TCP",
        }
        for port in spec.get("ports") or []
    ]
    return {
        "name": _meta(service).get("name"),
        "type": spec.get("type") or "ClusterIP",
        "ports": ports,
    }


def cloudcore_snapshot(*, deployment: Body | None, services: list[Body], pods: list[Body]) -> Body:
    """CloudCore's state in its namespace: status, version, its pods and services."""
    spec = (deployment or {}).get("spec") or {}
    selector = dict((spec.get("selector") or {}).get("matchLabels") or CLOUDCORE_POD_LABELS)
    template_labels = dict(_meta(spec.get("template") or {}).get("labels") or selector)
    own_pods = [p for p in pods if _matches(_meta(p).get("labels") or {}, selector)]
    own_services = [
        s
        for s in services
        if _meta(s).get("name") == CLOUDCORE_NAME
        or _matches(template_labels, (s.get("spec") or {}).get("selector") or {})
    ]
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or [{}]
    image = next((c.get("image") for c in containers if c.get("name") == CLOUDCORE_NAME), None)
    desired = int(spec.get("replicas", 1)) if deployment is not None else 0
    status = (deployment or {}).get("status") or {}
    ready = int(status.get("readyReplicas") or 0)
    # Available (ready for minReadySeconds), as `kubectl get deploy` counts a replica up.
    available = int(status.get("availableReplicas") or 0)
    return {
        "status": _overall(deployed=deployment is not None, desired=desired, up=available),
        "deployment_name": _meta(deployment).get("name") if deployment else None,
        "version": version_of(image or containers[0].get("image")),
        "image": image or containers[0].get("image"),
        "replicas": desired,
        "ready_replicas": ready,
        "available_replicas": available,
        "pods": [_pod_row(p) for p in own_pods],
        "services": [_service_row(s) for s in own_services],
    }


def _overall(*, deployed: bool, desired: int, up: int) -> str:
    if not deployed:
        return "not_deployed"
    if desired > 0 and up >= desired:
        return "running"
    return "degraded" if up > 0 else "pending"
