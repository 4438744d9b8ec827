"""What the sandbox needs for workloads: generation tracking and registrable CRDs.

Emulator work-around (generation): kmock stores objects as they are sent and never sets
`metadata.generation`, so a health gate comparing `status.observedGeneration` with it
would take the previous revision's status for the new one. Here apps/v1 objects and
KubeEdge's EdgeApplications get generation 1 on create and one more whenever a write
changes their `spec`; writes to the status subresource leave it alone, as on a cluster.

Emulator work-around (CRDs): kmock serves the resources it was told about and nothing
else. Creating a CustomResourceDefinition here registers its resource, so API discovery
lists it (that is how edgewright detects KubeEdge's EdgeApplication CRDs); deleting the
CRD unregisters it. The sandbox starts without any, like a cluster without KubeEdge's
apps CRDs.
"""

from __future__ import annotations

from typing import Any

import kmock
from kmock._internal.dicts import merge_patch_dict

CRD_RESOURCE = ("apiextensions.k8s.io/v1", "customresourcedefinitions", "CustomResourceDefinition")
_TRACKED = {
    ("apps", "deployments"),
    ("apps", "statefulsets"),
    ("apps.kubeedge.io", "edgeapplications"),
}
_VERBS = {"get", "list", "watch", "create", "patch", "delete"}


def _tracked(request: kmock.Request) -> bool:
    resource = request.resource
    return (
        resource is not None
        and (resource.group, resource.plural) in _TRACKED
        and not request.subresource
        and isinstance(request.data, dict)
    )


def track_generation(emulator: kmock.KubernetesEmulator, request: kmock.Request) -> None:
    """Set `metadata.generation` in a create or patch body before the emulator stores it."""
    if not _tracked(request):
        return
    data: dict[str, Any] = request.data
    if request.action == kmock.action.CREATE:
        data.setdefault("metadata", {})["generation"] = 1
        return
    if request.action != kmock.action.UPDATE or request.name is None or request.resource is None:
        return
    key = (request.resource, request.namespace, request.name)
    if key not in emulator.objects or emulator.objects[key].deleted:
        return  # the emulator answers 404 itself
    existing = dict(emulator.objects[key].last)
    merged = merge_patch_dict(existing, data)
    if merged.get("spec") != existing.get("spec"):
        generation = int((existing.get("metadata") or {}).get("generation") or 0) + 1
        data.setdefault("metadata", {})["generation"] = generation


def register_crd(emulator: kmock.KubernetesEmulator, crd: dict[str, Any], *, present: bool) -> None:
    """Serve (or stop serving) the resource a CustomResourceDefinition describes."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group, plural = spec.get("group"), names.get("plural")
    if not group or not plural:
        return
    for version in spec.get("versions") or []:
        key = f"{group}/{version.get('name')}/{plural}"
        if not present:
            if key in emulator.resources:
                del emulator.resources[key]
            continue
        emulator.resources[key] = kmock.ResourceInfo(
            kind=names.get("kind"),
            singular=names.get("singular") or str(plural),
            namespaced=spec.get("scope", "Namespaced") == "Namespaced",
            verbs=_VERBS,
            subresources={"status"},
        )


def is_crd(request: kmock.Request) -> bool:
    return request.resource is not None and request.resource.plural == CRD_RESOURCE[1]


def crd_objects(emulator: kmock.KubernetesEmulator) -> list[dict[str, Any]]:
    """The stored CRDs (after a state load), to register again."""
    return [
        dict(obj.last)
        for (resource, _namespace, _name), obj in emulator.objects.items()
        if resource.plural == CRD_RESOURCE[1] and not obj.deleted
    ]
