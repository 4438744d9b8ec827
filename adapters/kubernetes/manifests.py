"""The desired state of every Kubernetes object edgewright writes, as plain API bodies.

Pure functions of the activity inputs: no client, no I/O. Every object carries our labels
(managed-by, node, and device where one owns it) so it can be found, adopted and cleaned up.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from workflows.contracts.common import DEVICE_LABEL, MANAGED_BY, MANAGED_BY_LABEL, NODE_LABEL
from workflows.contracts.join import (
    DeviceResourceInput,
    EdgecoreConfigMapInput,
    NodeRbacInput,
    edgecore_configmap_name,
    edgecore_mqtt_secret_name,
)

DEVICE_API = ("devices.kubeedge.io", "v1beta1")
LOCATION_ANNOTATION = "edgewright.io/location"
RBAC_API = "rbac.authorization.k8s.io"

Body = dict[str, Any]


def node_rbac_name(node_name: str) -> str:
    return f"edgewright-node-{node_name}"


def _metadata(*, name: str, namespace: str, node_name: str, device_id: str | None = None) -> Body:
    labels = {MANAGED_BY_LABEL: MANAGED_BY, NODE_LABEL: node_name}
    if device_id is not None:
        labels[DEVICE_LABEL] = device_id
    # The sandbox emulator files objects by metadata.namespace, not by URL: always send it.
    return {"name": name, "namespace": namespace, "labels": labels}


def configmap_body(inp: EdgecoreConfigMapInput) -> Body:
    name = edgecore_configmap_name(inp.node_name)
    meta = _metadata(
        name=name, namespace=inp.namespace, node_name=inp.node_name, device_id=inp.device_id
    )
    data = {
        "cloudcore": f"{inp.cloudcore_host}:{inp.cloudcore_port}",
        "nodeName": inp.node_name,
        "deviceId": inp.device_id,
        "deviceType": inp.device_type or "",
        "location": inp.location or "",
        "configuration": json.dumps(inp.configuration, sort_keys=True),
    }
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


def mqtt_secret_body(
    *,
    namespace: str,
    node_name: str,
    device_id: str,
    host: str,
    port: int,
    password: str,
) -> Body:
    """The Secret beside the node's ConfigMap holding its device's MQTT account."""
    name = edgecore_mqtt_secret_name(node_name)
    meta = _metadata(name=name, namespace=namespace, node_name=node_name, device_id=device_id)
    values = {
        "host": host,
        "port": str(port),
        "username": device_id,
        "clientId": device_id,  # the account works with this client ID only
        "password": password,
    }
    data = {key: base64.b64encode(value.encode()).decode() for key, value in values.items()}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": "Opaque", "data": data}


def device_body(inp: DeviceResourceInput) -> Body:
    meta = _metadata(
        name=inp.device_id,
        namespace=inp.namespace,
        node_name=inp.node_name,
        device_id=inp.device_id,
    )
    if inp.location:  # free text: an annotation, as label values are too restricted
        meta["annotations"] = {LOCATION_ANNOTATION: inp.location}
    # devices.kubeedge.io/v1beta1 DeviceSpec; no `protocol`: no mapper drives these devices.
    spec = {"deviceModelRef": {"name": inp.device_type or "generic"}, "nodeName": inp.node_name}
    return {"apiVersion": "/".join(DEVICE_API), "kind": "Device", "metadata": meta, "spec": spec}


def rbac_bodies(inp: NodeRbacInput) -> tuple[Body, Body]:
    """The Role letting the node read its own edgecore ConfigMap and MQTT Secret, and its
    RoleBinding."""
    name = node_rbac_name(inp.node_name)
    meta = _metadata(name=name, namespace=inp.namespace, node_name=inp.node_name)
    rules = [
        {
            "apiGroups": [""],
            "resources": ["configmaps"],
            "resourceNames": [edgecore_configmap_name(inp.node_name)],
            "verbs": ["get", "list", "watch"],
        },
        {
            "apiGroups": [""],
            "resources": ["secrets"],
            "resourceNames": [edgecore_mqtt_secret_name(inp.node_name)],
            "verbs": ["get", "watch"],
        },
    ]
    role = {"apiVersion": f"{RBAC_API}/v1", "kind": "Role", "metadata": dict(meta), "rules": rules}
    subject = {"apiGroup": RBAC_API, "kind": "User", "name": f"system:node:{inp.node_name}"}
    binding = {
        "apiVersion": f"{RBAC_API}/v1",
        "kind": "RoleBinding",
        "metadata": meta,
        "roleRef": {"apiGroup": RBAC_API, "kind": "Role", "name": name},
        "subjects": [subject],
    }
    return role, binding


def not_ours(existing: Body, *, desired: Body, owner: str) -> str | None:
    """Why `existing` may not be adopted for `desired`, or None when it is ours.

    Ours means our managed-by label and the same `owner` label value (the device for
    device-scoped objects, the node for node-scoped ones).
    """
    labels = (existing.get("metadata") or {}).get("labels") or {}
    managed_by, owned_by = labels.get(MANAGED_BY_LABEL), labels.get(owner)
    if managed_by == MANAGED_BY and owned_by == desired["metadata"]["labels"][owner]:
        return None
    return f"it exists and is not ours ({MANAGED_BY_LABEL}={managed_by!r}, {owner}={owned_by!r})"


def adoption_patch(*, existing: Body, desired: Body) -> Body:
    """A JSON merge patch that turns `existing` into `desired` (foreign labels survive)."""
    patch = {key: value for key, value in desired.items() if key not in ("apiVersion", "kind")}
    patch["metadata"] = dict(desired["metadata"])
    version = (existing.get("metadata") or {}).get("resourceVersion")
    if version:  # optimistic concurrency: a concurrent writer becomes a retryable 409
        patch["metadata"]["resourceVersion"] = version
    if "data" in desired:  # ConfigMap and Secret data are ours: drop keys we no longer write
        stale = set(existing.get("data") or {}) - set(desired["data"])
        patch["data"] = {**desired["data"], **dict.fromkeys(stale)}
    return patch
