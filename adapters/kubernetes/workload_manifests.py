"""The Kubernetes objects of a workload on one node, as plain API bodies (no I/O).

Per (workload, node): a Deployment or StatefulSet named `workload_object_name(name, node)`
pinned to the node by its hostname label, one Service per published port, and in
EdgeApplication mode an EdgeApplication wrapping those manifests plus a one-node NodeGroup.
Every object carries `labels_for(...)` and two annotations: the spec it was built from
(so a rollback can put back exactly what ran before, without the store) and its sha256
(so applying the same revision twice is recognised and writes nothing).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import ValidationError

from workflows.contracts.common import EDGE_ROLE_LABEL, MANAGED_BY, MANAGED_BY_LABEL, NODE_LABEL
from workflows.contracts.workloads import (
    HOSTNAME_LABEL,
    REVISION_LABEL,
    WORKLOAD_LABEL,
    ResourceList,
    WorkloadKind,
    WorkloadSpec,
    labels_for,
    workload_object_name,
)

Body = dict[str, Any]

SPEC_ANNOTATION = "edgewright.io/spec"
SPEC_HASH_ANNOTATION = "edgewright.io/spec-sha256"
APPS_KUBEEDGE = ("apps.kubeedge.io", "v1alpha1")
# Deployments report ProgressDeadlineExceeded after this long without progress.
PROGRESS_DEADLINE_SECONDS = 600


def spec_json(spec: WorkloadSpec) -> str:
    return json.dumps(spec.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def spec_digest(spec: WorkloadSpec, revision: int) -> str:
    return hashlib.sha256(f"{revision}:{spec_json(spec)}".encode()).hexdigest()


def _metadata(
    name: str,
    *,
    namespace: str | None,
    workload_id: str,
    revision: int,
    spec: WorkloadSpec,
    node: str,
) -> Body:
    meta: Body = {
        "name": name,
        "labels": labels_for(workload_id, revision, node),
        "annotations": {
            SPEC_ANNOTATION: spec_json(spec),
            SPEC_HASH_ANNOTATION: spec_digest(spec, revision),
        },
    }
    if namespace is not None:  # the sandbox files objects by metadata.namespace: always send it
        meta["namespace"] = namespace
    return meta


def _resources(resources: ResourceList) -> Body:
    return {key: value for key, value in resources.model_dump().items() if value is not None}


def _pod_template(workload_id: str, revision: int, spec: WorkloadSpec, node: str) -> Body:
    name = workload_object_name(spec.name, node)
    container: Body = {"name": spec.name, "image": spec.image}
    if spec.env:
        container["env"] = [{"name": key, "value": spec.env[key]} for key in sorted(spec.env)]
    resources = {
        part: _resources(getattr(spec.resources, part))
        for part in ("requests", "limits")
        if _resources(getattr(spec.resources, part))
    }
    if resources:
        container["resources"] = resources
    if spec.ports:
        container["ports"] = [{"containerPort": port.container_port} for port in spec.ports]
    return {
        "metadata": {"labels": {**labels_for(workload_id, revision, node), "app": name}},
        "spec": {
            # The hostname pin is exact: the object runs on its node or nowhere.
            "nodeSelector": {HOSTNAME_LABEL: node},
            # keadm taints edge nodes so ordinary pods stay off them; ours belong there.
            "tolerations": [{"key": EDGE_ROLE_LABEL, "operator": "Exists", "effect": "NoSchedule"}],
            "containers": [container],
        },
    }


def selector(workload_id: str, spec: WorkloadSpec, node: str) -> Body:
    # Immutable on a live object: never put the revision in it.
    return {"app": workload_object_name(spec.name, node), WORKLOAD_LABEL: workload_id}


def workload_body(workload_id: str, revision: int, spec: WorkloadSpec, node: str) -> Body:
    """The Deployment or StatefulSet that runs `spec` on `node`."""
    name = workload_object_name(spec.name, node)
    meta = _metadata(
        name,
        namespace=spec.namespace,
        workload_id=workload_id,
        revision=revision,
        spec=spec,
        node=node,
    )
    body_spec: Body = {
        "replicas": spec.replicas,
        "selector": {"matchLabels": selector(workload_id, spec, node)},
        "template": _pod_template(workload_id, revision, spec, node),
    }
    if spec.kind is WorkloadKind.STATEFULSET:
        body_spec["serviceName"] = name
        kind = "StatefulSet"
    else:
        body_spec["progressDeadlineSeconds"] = PROGRESS_DEADLINE_SECONDS
        kind = "Deployment"
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": meta, "spec": body_spec}


def service_name(spec: WorkloadSpec, container_port: int, node: str) -> str:
    return workload_object_name(f"{spec.name}-p{container_port}", node)


def service_bodies(workload_id: str, revision: int, spec: WorkloadSpec, node: str) -> list[Body]:
    """One Service per published port on `node` (apps): the device's port and URL."""
    bodies = []
    for port in spec.ports:
        service_port = port.service_ports.get(node)
        if service_port is None:
            continue
        name = service_name(spec, port.container_port, node)
        meta = _metadata(
            name,
            namespace=spec.namespace,
            workload_id=workload_id,
            revision=revision,
            spec=spec,
            node=node,
        )
        body_spec = {
            "selector": selector(workload_id, spec, node),
            "ports": [{"name": "app", "port": service_port, "targetPort": port.container_port}],
        }
        bodies.append({"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": body_spec})
    return bodies


def node_group_name(node: str) -> str:
    """The one-node NodeGroup edgewright keeps per node (a node joins one group only)."""
    return workload_object_name("edgewright", node)


def node_group_body(node: str) -> Body:
    meta = {
        "name": node_group_name(node),
        "labels": {MANAGED_BY_LABEL: MANAGED_BY, NODE_LABEL: node},
    }
    return {
        "apiVersion": "/".join(APPS_KUBEEDGE),
        "kind": "NodeGroup",
        "metadata": meta,
        "spec": {"nodes": [node]},
    }


def edge_application_body(workload_id: str, revision: int, spec: WorkloadSpec, node: str) -> Body:
    """KubeEdge's EdgeApplication carrying the node's Deployment/StatefulSet and Services.

    KubeEdge's controller creates the Deployment as `{name}-{nodegroup}` with the
    manifest's labels, so the health gate finds it by our labels like in Deployment mode.
    """
    name = workload_object_name(spec.name, node)
    meta = _metadata(
        name,
        namespace=spec.namespace,
        workload_id=workload_id,
        revision=revision,
        spec=spec,
        node=node,
    )
    manifests = [
        workload_body(workload_id, revision, spec, node),
        *service_bodies(workload_id, revision, spec, node),
    ]
    return {
        "apiVersion": "/".join(APPS_KUBEEDGE),
        "kind": "EdgeApplication",
        "metadata": meta,
        "spec": {
            "workloadTemplate": {"manifests": manifests},
            "workloadScope": {"targetNodeGroups": [{"name": node_group_name(node)}]},
        },
    }


# --- reading our objects back ----------------------------------------------------------


def labels_of(obj: Body) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


def revision_of(obj: Body) -> int | None:
    try:
        return int(labels_of(obj)[REVISION_LABEL])
    except (KeyError, ValueError):
        return None


def spec_of(obj: Body) -> WorkloadSpec | None:
    """The spec an object of ours was built from; None when it does not say (or lies)."""
    raw = ((obj.get("metadata") or {}).get("annotations") or {}).get(SPEC_ANNOTATION)
    if not raw:
        return None
    try:
        return WorkloadSpec.model_validate_json(raw)
    except ValidationError:
        return None


def is_current(obj: Body, desired: Body) -> bool:
    """Built from the same revision and spec: nothing to write."""

    def digest(body: Body) -> str | None:
        return ((body.get("metadata") or {}).get("annotations") or {}).get(SPEC_HASH_ANNOTATION)

    return digest(obj) is not None and digest(obj) == digest(desired)


def merge_patch(previous: Any, desired: Any) -> Any:
    """The JSON merge patch from what we wrote before to what we want now.

    Diffing against our own previous body (not the live object) nulls only the fields we
    stopped setting, never the defaults the API server filled in.
    """
    if not isinstance(previous, dict) or not isinstance(desired, dict):
        return desired
    patch: Body = {key: None for key in previous if key not in desired}
    for key, value in desired.items():
        if key not in previous:
            patch[key] = value
        elif previous[key] != value:
            patch[key] = merge_patch(previous[key], value)
    return patch
