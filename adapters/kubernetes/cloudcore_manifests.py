"""CloudCore's Deployment and Service: desired bodies, update patches, rollout status.

Pure functions of JSON bodies. A Deployment we create is a minimal CloudCore (the image,
its ports, its `cloudcore` ConfigMap); a full install with RBAC and CRDs comes from keadm or
the Helm chart, and this module then only changes what a deploy request names: image,
replicas and resources of the `cloudcore` container.
"""

from __future__ import annotations

import copy
from typing import Any

from workflows.contracts.cloudcore import (
    CloudCoreRolloutState,
    CloudCoreSpec,
    CloudCoreState,
    CloudCoreTarget,
)
from workflows.contracts.common import MANAGED_BY, MANAGED_BY_LABEL

Body = dict[str, Any]

NAME = "cloudcore"
POD_LABELS = {"k8s-app": "kubeedge", "kubeedge": "cloudcore"}  # as keadm's chart labels them
# KubeEdge's CloudCore ports (cloud/pkg/cloudhub and cloudstream defaults).
PORTS = (
    ("cloudhub", 10000, "TCP"),
    ("cloudhub-quic", 10001, "UDP"),
    ("cloudhub-https", 10002, "TCP"),
    ("cloudstream", 10003, "TCP"),
    ("tunnelport", 10004, "TCP"),
)


def image_for(target: CloudCoreTarget, spec: CloudCoreSpec) -> str:
    return f"{target.image_repository}:v{spec.version.removeprefix('v')}"


def resources_for(spec: CloudCoreSpec) -> dict[str, dict[str, str]]:
    """Requests and limits alike (Guaranteed QoS: CloudCore is not to be evicted first)."""
    given = {key: value for key, value in spec.resources.model_dump().items() if value}
    return {"requests": dict(given), "limits": dict(given)} if given else {}


def _metadata(target: CloudCoreTarget) -> Body:
    labels = {**POD_LABELS, MANAGED_BY_LABEL: MANAGED_BY}
    # The sandbox emulator files objects by metadata.namespace, not by URL: always send it.
    return {"name": NAME, "namespace": target.namespace, "labels": labels}


def deployment_body(target: CloudCoreTarget, spec: CloudCoreSpec) -> Body:
    container: Body = {
        "name": NAME,
        "image": image_for(target, spec),
        "imagePullPolicy": "IfNotPresent",
        "ports": [
            {"name": name, "containerPort": port, "protocol": protocol}
            for name, port, protocol in PORTS
        ],
        "volumeMounts": [{"name": "conf", "mountPath": "/etc/kubeedge/config"}],
    }
    if resources := resources_for(spec):
        container["resources"] = resources
    conf = {"name": "conf", "configMap": {"name": NAME, "optional": True}}
    template = {
        "metadata": {"labels": dict(POD_LABELS)},
        "spec": {"containers": [container], "volumes": [conf]},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(target),
        "spec": {
            "replicas": spec.replicas,
            "selector": {"matchLabels": dict(POD_LABELS)},
            "template": template,
        },
    }


def service_body(target: CloudCoreTarget) -> Body:
    ports = [
        {"name": name, "port": port, "targetPort": port, "protocol": protocol}
        for name, port, protocol in PORTS
    ]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(target),
        "spec": {"type": "NodePort", "selector": dict(POD_LABELS), "ports": ports},
    }


def _containers(deployment: Body) -> list[Body]:
    spec = deployment.get("spec") or {}
    return list(((spec.get("template") or {}).get("spec") or {}).get("containers") or [])


def _cloudcore_index(containers: list[Body]) -> int:
    names = [c.get("name") for c in containers]
    return names.index(NAME) if NAME in names else 0


def state_of(deployment: Body | None, *, service_exists: bool) -> CloudCoreState:
    if deployment is None:
        return CloudCoreState(deployment_existed=False, service_existed=service_exists)
    containers = _containers(deployment) or [{}]
    container = containers[_cloudcore_index(containers)]
    resources = {
        kind: {key: str(value) for key, value in (values or {}).items()}
        for kind, values in (container.get("resources") or {}).items()
        if isinstance(values, dict)
    }
    return CloudCoreState(
        deployment_existed=True,
        service_existed=service_exists,
        image=container.get("image"),
        replicas=(deployment.get("spec") or {}).get("replicas"),
        resources=resources,
    )


def set_container_patch(
    existing: Body,
    *,
    image: str | None,
    replicas: int | None,
    resources: dict[str, dict[str, str]] | None,
) -> Body:
    """A JSON merge patch setting the cloudcore container's image and resources and the
    replicas. The containers list is sent whole (merge patches replace lists), copied from
    `existing` so other containers are kept; resourceVersion makes a concurrent writer a
    retryable 409. `resources` None keeps them; {} removes them."""
    containers = copy.deepcopy(_containers(existing))
    if not containers:
        containers = [{"name": NAME}]
    container = containers[_cloudcore_index(containers)]
    if image is not None:
        container["image"] = image
    if resources is not None:
        if resources:
            container["resources"] = resources
        else:
            container.pop("resources", None)
    spec: Body = {"template": {"spec": {"containers": containers}}}
    if replicas is not None:
        spec["replicas"] = replicas
    metadata: Body = {}
    version = (existing.get("metadata") or {}).get("resourceVersion")
    if version:
        metadata["resourceVersion"] = version
    return {"metadata": metadata, "spec": spec}


def rollout_state(deployment: Body | None, *, desired: int) -> CloudCoreRolloutState:
    """`kubectl rollout status` for one Deployment, as data."""
    if deployment is None:
        return CloudCoreRolloutState(complete=False, failed=True, message="the Deployment is gone")
    status = deployment.get("status") or {}
    generation = (deployment.get("metadata") or {}).get("generation")
    observed = status.get("observedGeneration")
    updated = int(status.get("updatedReplicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    total = int(status.get("replicas") or 0)
    counts: Body = {"desired": desired, "updated": updated, "available": available}
    if generation is not None and (observed is None or int(observed) < int(generation)):
        return CloudCoreRolloutState(
            complete=False, message="waiting for the rollout to start", **counts
        )
    for condition in status.get("conditions") or []:
        if (
            condition.get("type") == "Progressing"
            and condition.get("reason") == "ProgressDeadlineExceeded"
        ):
            message = f"rollout exceeded its progress deadline: {condition.get('message') or ''}"
            return CloudCoreRolloutState(
                complete=False, failed=True, message=message.strip(), **counts
            )
    if updated < desired:
        message = f"{updated} of {desired} replicas updated"
        return CloudCoreRolloutState(complete=False, message=message, **counts)
    if total > updated:
        message = f"{total - updated} old replicas pending termination"
        return CloudCoreRolloutState(complete=False, message=message, **counts)
    if available < updated:
        message = f"{available} of {updated} updated replicas available"
        return CloudCoreRolloutState(complete=False, message=message, **counts)
    return CloudCoreRolloutState(complete=True, message="rolled out", **counts)


def is_ours(obj: Body) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return bool(labels.get(MANAGED_BY_LABEL) == MANAGED_BY)
