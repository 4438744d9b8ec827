"""Writing one node's objects of a workload: put a revision there, or take it away.

`put` is idempotent: an object already built from the same revision and spec (the digest
annotation says so) is left untouched; otherwise it is patched with the difference between
what we wrote before (rebuilt from its spec annotation) and what we want now, so fields
the API server defaulted are never disturbed. Objects that are not ours are never written.
Synchronous: the activities call it from a thread pool.
"""

from __future__ import annotations

from kubernetes.client.exceptions import ApiException
from temporalio.exceptions import ApplicationError

from adapters.kubernetes.errors import describe, kube_errors
from adapters.kubernetes.workload_manifests import (
    Body,
    edge_application_body,
    is_current,
    labels_of,
    merge_patch,
    node_group_body,
    revision_of,
    service_bodies,
    spec_of,
    workload_body,
)
from adapters.kubernetes.workload_objects import (
    DEPLOYMENT,
    EDGE_APPLICATION,
    NODE_GROUP,
    SERVICE,
    STATEFULSET,
    WORKLOAD_KINDS,
    Kind,
    WorkloadObjects,
    is_ours,
)
from workflows.contracts.common import NODE_LABEL, ErrorType, TransientKubeError
from workflows.contracts.workloads import WorkloadMode, WorkloadSpec, workload_object_name


class NodeWriter:
    def __init__(self, objects: WorkloadObjects) -> None:
        self._objects = objects

    def put(
        self, *, workload_id: str, revision: int, spec: WorkloadSpec, node: str, mode: WorkloadMode
    ) -> None:
        """Make `node` run `revision` of the workload."""
        if mode is WorkloadMode.EDGE_APPLICATION:
            self._ensure_node_group(node)
            desired = edge_application_body(workload_id, revision, spec, node)
            self._upsert(EDGE_APPLICATION, desired, workload_id=workload_id, node=node)
            return
        desired = workload_body(workload_id, revision, spec, node)
        kind = WORKLOAD_KINDS[desired["kind"]]
        before = self._upsert(kind, desired, workload_id=workload_id, node=node)
        # A kind switch (Deployment <-> StatefulSet): the other kind's object must go.
        other = STATEFULSET if kind is DEPLOYMENT else DEPLOYMENT
        replaced = self._delete(other, spec.namespace, desired["metadata"]["name"], workload_id)
        previous = before if before is not None else replaced
        previous_spec = spec_of(previous) if previous is not None else None
        wanted = set()
        for body in service_bodies(workload_id, revision, spec, node):
            wanted.add(body["metadata"]["name"])
            self._upsert(SERVICE, body, workload_id=workload_id, node=node)
        if previous_spec is not None:  # ports the previous revision published, and this one not
            for body in service_bodies(workload_id, 0, previous_spec, node):
                if body["metadata"]["name"] not in wanted:
                    self._delete(SERVICE, spec.namespace, body["metadata"]["name"], workload_id)

    def remove(self, *, workload_id: str, spec: WorkloadSpec, node: str) -> None:
        """Take the workload off `node` entirely (its first revision is being undone)."""
        name = workload_object_name(spec.name, node)
        for kind in (EDGE_APPLICATION, DEPLOYMENT, STATEFULSET):
            obj = self._delete(kind, spec.namespace, name, workload_id)
            ran = spec_of(obj) if obj is not None else None
            for published in [spec] if ran is None or ran == spec else [spec, ran]:
                for body in service_bodies(workload_id, 0, published, node):
                    self._delete(SERVICE, spec.namespace, body["metadata"]["name"], workload_id)

    # --- one object ------------------------------------------------------------------

    def _upsert(self, kind: Kind, desired: Body, *, workload_id: str, node: str) -> Body | None:
        """Create or bring up to date; returns the object as it was before (None: created)."""
        meta = desired["metadata"]
        namespace, name = meta.get("namespace"), meta["name"]
        with kube_errors(action="apply", kind=kind.kind, name=name, namespace=namespace):
            existing = self._objects.get(kind, namespace, name)
            if existing is None:
                try:
                    self._objects.create(kind, desired)
                    return None
                except ApiException as exc:
                    if exc.status != 409:
                        raise
                # Created concurrently (a retried activity racing its predecessor): adopt it.
                existing = self._objects.get(kind, namespace, name)
                if existing is None:
                    raise _error(kind, name, namespace, "vanished while being adopted")
            _check_ours(kind, existing, name, namespace, workload_id=workload_id, node=node)
            if is_current(existing, desired):
                return existing
            previous = _rebuild(kind, existing, workload_id=workload_id, node=node)
            patch = merge_patch(previous, desired) if previous is not None else dict(desired)
            patch.pop("apiVersion", None)
            patch.pop("kind", None)
            version = (existing.get("metadata") or {}).get("resourceVersion")
            if version:  # optimistic concurrency: a concurrent writer is a retryable 409
                patch.setdefault("metadata", {})["resourceVersion"] = version
            self._objects.patch(kind, namespace, name, patch)
            return existing

    def _ensure_node_group(self, node: str) -> None:
        desired = node_group_body(node)
        name = desired["metadata"]["name"]
        with kube_errors(action="apply", kind="NodeGroup", name=name):
            existing = self._objects.get(NODE_GROUP, None, name)
            if existing is None:
                try:
                    self._objects.create(NODE_GROUP, desired)
                    return
                except ApiException as exc:
                    if exc.status != 409:
                        raise
                existing = self._objects.get(NODE_GROUP, None, name) or desired
            if not is_ours(existing) or labels_of(existing).get(NODE_LABEL) != node:
                raise _error(NODE_GROUP, name, None, "exists and is not ours", final=True)
            if existing.get("spec") != desired["spec"]:
                self._objects.patch(NODE_GROUP, None, name, {"spec": desired["spec"]})

    def _delete(self, kind: Kind, namespace: str, name: str, workload_id: str) -> Body | None:
        """Delete our object of this workload; returns it as it was (None: there was none)."""
        with kube_errors(action="delete", kind=kind.kind, name=name, namespace=namespace):
            obj = self._objects.get(kind, namespace, name)
            if obj is None or not is_ours(obj, workload_id):
                return None
            self._objects.delete(kind, obj)
            return obj


def _check_ours(
    kind: Kind, obj: Body, name: str, namespace: str | None, *, workload_id: str, node: str
) -> None:
    if not is_ours(obj, workload_id) or labels_of(obj).get(NODE_LABEL) != node:
        raise _error(kind, name, namespace, "exists and is not this workload's", final=True)
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        raise _error(kind, name, namespace, "is still being deleted")


def _rebuild(kind: Kind, obj: Body, *, workload_id: str, node: str) -> Body | None:
    """The body we wrote last time, from the spec and revision the object carries."""
    spec, revision = spec_of(obj), revision_of(obj)
    if spec is None or revision is None:
        return None
    if kind is EDGE_APPLICATION:
        return edge_application_body(workload_id, revision, spec, node)
    if kind is SERVICE:
        name = obj["metadata"]["name"]
        bodies = service_bodies(workload_id, revision, spec, node)
        return next((body for body in bodies if body["metadata"]["name"] == name), None)
    body = workload_body(workload_id, revision, spec, node)
    return body if WORKLOAD_KINDS.get(body["kind"]) is kind else None


def _error(
    kind: Kind, name: str, namespace: str | None, problem: str, *, final: bool = False
) -> ApplicationError:
    what = describe(action="apply", kind=kind.kind, name=name, namespace=namespace)
    if final:  # someone else's object: retrying will not make it ours
        return ApplicationError(f"{what}: {problem}", type=ErrorType.CONFLICT, non_retryable=True)
    return ApplicationError(f"{what}: {problem}", type=TransientKubeError.CONFLICT)
