"""The sandbox's Deployment controller, for CloudCore's Deployment.

Emulator work-around: kmock runs no controllers, so a Deployment never reports a rollout
and a CloudCore deploy would wait out its timeout and roll back. Here, for every
Deployment named `cloudcore` (in any namespace: the API's namespace is a setting), the
sandbox writes the status the Deployment controller would, in two steps after each change
of `spec` (a new `metadata.generation`): first the new ReplicaSet's pods exist but are not
ready yet while the old ones still serve (`replicas` counts both, `updatedReplicas` the new
ones, Progressing `ReplicaSetUpdated`); a tick later the new pods are available and the old
ones gone (Available `MinimumReplicasAvailable`, Progressing `NewReplicaSetAvailable`).

Steering, for tests and demos: the annotation HOLD_ANNOTATION = "true" on the Deployment
or on its Namespace holds its rollouts at the first step, as pods that never become ready
would (a Namespace annotation also covers a Deployment that does not exist yet). A
Deployment already rolled out stays as it is.
"""

from __future__ import annotations

import copy
from typing import Any

import kmock

HOLD_ANNOTATION = "sandbox.edgewright.io/hold-rollout"
NAME = "cloudcore"
DEPLOYMENTS = kmock.resource("apps", "v1", "deployments")
NAMESPACES = kmock.resource("", "v1", "namespaces")
INTERVAL_SECONDS = 0.5

Key = tuple[Any, str | None, str]


def is_rolled_out(request: kmock.Request) -> Key | None:
    """The key of the Deployment a request writes, when it is one this controller plays."""
    resource = request.resource
    if resource is None or (resource.group, resource.plural) != ("apps", "deployments"):
        return None
    meta = request.data.get("metadata", {}) if isinstance(request.data, dict) else {}
    name = request.name or meta.get("name")
    return (DEPLOYMENTS, request.namespace or meta.get("namespace"), name) if name == NAME else None


def existing(emulator: kmock.KubernetesEmulator) -> set[Key]:
    """The controller's Deployments already held (after a state load or the seed)."""
    return {
        (DEPLOYMENTS, namespace, name)
        for (resource, namespace, name), obj in emulator.objects.items()
        if resource == DEPLOYMENTS and name == NAME and not obj.deleted
    }


def _condition(kind: str, status: bool, reason: str, message: str) -> dict[str, str]:
    return {"type": kind, "status": str(status), "reason": reason, "message": message}


def next_status(body: dict[str, Any], *, held: bool) -> dict[str, Any]:
    """The status the Deployment controller writes next for `body`."""
    generation = int((body.get("metadata") or {}).get("generation") or 1)
    replicas = int((body.get("spec") or {}).get("replicas", 1))
    current = body.get("status") or {}
    name = f'ReplicaSet "{NAME}-{generation}"'
    observed = current.get("observedGeneration") == generation
    counts = ("replicas", "updatedReplicas", "availableReplicas")
    done = observed and all(current.get(count) == replicas for count in counts)
    if observed and (done or not held):  # the new pods are up (a hold stops only rollouts)
        return {
            "observedGeneration": generation,
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
            "conditions": [
                _condition("Available", True, "MinimumReplicasAvailable", "has minimum"),
                _condition("Progressing", True, "NewReplicaSetAvailable", f"{name} done"),
            ],
        }
    # The new ReplicaSet's pods exist, not ready yet; the old ones still serve, if any.
    if observed:
        old = int(current.get("replicas") or 0) - int(current.get("updatedReplicas") or 0)
    else:
        old = int(current.get("availableReplicas") or 0)
    available = min(old, replicas)
    enough = available >= replicas
    return {
        "observedGeneration": generation,
        "replicas": replicas + max(old, 0),
        "updatedReplicas": replicas,
        "readyReplicas": available,
        "availableReplicas": available,
        "conditions": [
            _condition(
                "Available",
                enough,
                "MinimumReplicasAvailable" if enough else "MinimumReplicasUnavailable",
                "old replicas serving" if available else "no replica available",
            ),
            _condition("Progressing", True, "ReplicaSetUpdated", f"{name} is progressing"),
        ],
    }


def _annotated(obj: Any) -> bool:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return bool(annotations.get(HOLD_ANNOTATION) == "true")


def is_held(emulator: kmock.KubernetesEmulator, body: dict[str, Any], namespace: str) -> bool:
    key = (NAMESPACES, None, namespace)
    held_here = key in emulator.objects and not emulator.objects[key].deleted
    return _annotated(body) or (held_here and _annotated(emulator.objects[key].raw))


async def reconcile(emulator: kmock.KubernetesEmulator, keys: set[Key]) -> list[Key]:
    """One pass over `keys`: write each Deployment's next status; the keys written.

    Keys of Deployments that are gone are dropped from `keys`.
    """
    written = []
    for key in list(keys):
        if key not in emulator.objects or emulator.objects[key].deleted:
            keys.discard(key)
            continue
        obj = emulator.objects[key]
        body = copy.deepcopy(obj.raw)
        status = next_status(body, held=is_held(emulator, body, str(key[1])))
        if _same(body.get("status") or {}, status):
            continue
        async with emulator._lock:  # as the emulator's own writes
            obj.patch({"status": None})  # replace the status whole, lists and all
            obj["status"] = status
            await emulator._buses[DEPLOYMENTS].put({"type": "MODIFIED", "object": obj.raw})
        written.append(key)
    return written


def _same(current: dict[str, Any], desired: dict[str, Any]) -> bool:
    """Equal but for the conditions' messages (which name a generation anyway)."""

    def shape(status: dict[str, Any]) -> Any:
        given = status.get("conditions") or []
        conditions = [(c.get("type"), c.get("status"), c.get("reason")) for c in given]
        counts = {k: v for k, v in status.items() if k != "conditions"}
        return counts, conditions

    return bool(shape(current) == shape(desired))
