"""The Kubernetes objects edgewright owns, by kind: list, create-or-adopt, delete.

What backups archive and restores put back. "Owned" means our managed-by label, and it is
checked on our side as well as in the label selector (the sandbox ignores selectors, and a
client-side check costs nothing on a real cluster). Objects are kept as their desired
state: no status and none of the fields the API server sets (uid, resourceVersion, ...),
so an archived object can be created again anywhere. Synchronous (the official client):
callers run it in the worker's thread pool.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from temporalio.exceptions import ApplicationError

from adapters.kubernetes.errors import ignore_status, kube_errors
from adapters.kubernetes.manifests import DEVICE_API, RBAC_API, Body, adoption_patch
from workflows.contracts.common import (
    MANAGED_BY,
    MANAGED_BY_LABEL,
    BackupErrorType,
    TransientKubeError,
)

REQUEST_TIMEOUT = (5.0, 60.0)
MERGE_PATCH = "application/merge-patch+json"
PAGE = 500
# Set by the API server; meaningless (or harmful: uids, owners) on another cluster.
_SERVER_METADATA = {
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "ownerReferences",
}
Applied = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True)
class KubeKind:
    kind: str
    api_version: str
    suffix: str  # the typed client's method suffix, or the plural of a custom resource
    custom: bool = False


CONFIGMAP = KubeKind("ConfigMap", "v1", "config_map")
ROLE = KubeKind("Role", f"{RBAC_API}/v1", "role")
ROLE_BINDING = KubeKind("RoleBinding", f"{RBAC_API}/v1", "role_binding")
DEVICE = KubeKind("Device", "/".join(DEVICE_API), "devices", custom=True)
KINDS = {kind.kind: kind for kind in (CONFIGMAP, ROLE, ROLE_BINDING, DEVICE)}


@dataclass(frozen=True)
class _Calls:
    list: Callable[..., Any]
    create: Callable[..., Any]
    read: Callable[..., Any]
    patch: Callable[..., Any]
    delete: Callable[..., Any]


def desired_state(kind: KubeKind, obj: Body) -> Body:
    """The object as we would create it: no status, no server-set metadata."""
    body = {key: value for key, value in obj.items() if key != "status"}
    metadata = {
        key: value
        for key, value in (obj.get("metadata") or {}).items()
        if key not in _SERVER_METADATA
    }
    # List items carry no apiVersion/kind on a real API server; the kind is known here.
    return {**body, "apiVersion": kind.api_version, "kind": kind.kind, "metadata": metadata}


def is_ours(obj: Body) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return bool(labels.get(MANAGED_BY_LABEL) == MANAGED_BY)


class KubeObjects:
    def __init__(self, *, api_client: client.ApiClient) -> None:
        self._core = client.CoreV1Api(api_client)
        self._rbac = client.RbacAuthorizationV1Api(api_client)
        self._custom = client.CustomObjectsApi(api_client)

    def list_owned(self, kind: KubeKind, *, namespace: str) -> Iterator[list[Body]]:
        """Our objects of `kind` in `namespace`, as desired state, a page at a time."""
        calls = self._calls(kind, namespace)
        selector = f"{MANAGED_BY_LABEL}={MANAGED_BY}"
        token: str | None = None
        with kube_errors(action="list", kind=kind.kind, name="*", namespace=namespace):
            while True:
                page = _json(
                    calls.list(
                        label_selector=selector,
                        limit=PAGE,
                        _continue=token,
                        _preload_content=False,
                        _request_timeout=REQUEST_TIMEOUT,
                    )
                )
                items = [desired_state(kind, item) for item in page.get("items") or []]
                yield [item for item in items if is_ours(item)]
                token = (page.get("metadata") or {}).get("continue") or None
                if token is None:
                    return

    def apply(self, kind: KubeKind, body: Body) -> Applied:
        """Create `body`, or bring our existing object to it; someone else's is a conflict."""
        meta = body["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        calls = self._calls(kind, namespace)
        with kube_errors(action="restore", kind=kind.kind, name=name, namespace=namespace):
            try:
                calls.create(body, _request_timeout=REQUEST_TIMEOUT)
                return "created"
            except ApiException as exc:
                if exc.status != 409:
                    raise
            existing = _json(
                calls.read(name, _preload_content=False, _request_timeout=REQUEST_TIMEOUT)
            )
            if (existing.get("metadata") or {}).get("deletionTimestamp"):
                raise ApplicationError(
                    f"{kind.kind} {namespace}/{name} is still being deleted",
                    type=TransientKubeError.CONFLICT,
                )
            if not is_ours(existing):
                raise ApplicationError(
                    f"{kind.kind} {namespace}/{name} exists and is not managed by edgewright; "
                    "the restore will not overwrite it",
                    type=BackupErrorType.RESTORE_CONFLICT,
                    non_retryable=True,
                )
            if desired_state(kind, existing) == body:
                return "unchanged"
            patch = adoption_patch(existing=existing, desired=body)
            calls.patch(name, patch, _content_type=MERGE_PATCH, _request_timeout=REQUEST_TIMEOUT)
            return "updated"

    def read_owned(self, kind: KubeKind, *, namespace: str, name: str) -> Body | None:
        """Our object as desired state; None when it is absent or someone else's."""
        calls = self._calls(kind, namespace)
        with kube_errors(action="read", kind=kind.kind, name=name, namespace=namespace):
            try:
                existing = _json(
                    calls.read(name, _preload_content=False, _request_timeout=REQUEST_TIMEOUT)
                )
            except ApiException as exc:
                if exc.status == 404:
                    return None
                raise
        return desired_state(kind, existing) if is_ours(existing) else None

    def delete(self, kind: KubeKind, *, namespace: str, name: str) -> None:
        """Delete one of our objects; already gone counts as done."""
        calls = self._calls(kind, namespace)
        with (
            kube_errors(action="delete", kind=kind.kind, name=name, namespace=namespace),
            ignore_status(404),
        ):
            existing = _json(
                calls.read(name, _preload_content=False, _request_timeout=REQUEST_TIMEOUT)
            )
            if not is_ours(existing):
                return
            uid = (existing.get("metadata") or {}).get("uid")
            options = {"preconditions": {"uid": uid}} if uid else None
            calls.delete(name, body=options, _request_timeout=REQUEST_TIMEOUT)

    def _calls(self, kind: KubeKind, namespace: str) -> _Calls:
        if kind.custom:
            group, version = DEVICE_API
            where = (group, version, namespace, kind.suffix)
            custom = self._custom
            return _Calls(
                list=partial(custom.list_namespaced_custom_object, *where),
                create=partial(custom.create_namespaced_custom_object, *where),
                read=lambda name, **kw: custom.get_namespaced_custom_object(*where, name, **kw),
                patch=lambda name, body, **kw: custom.patch_namespaced_custom_object(
                    *where, name, body, **kw
                ),
                delete=lambda name, **kw: custom.delete_namespaced_custom_object(
                    *where, name, **kw
                ),
            )
        api = self._core if kind is CONFIGMAP else self._rbac
        suffix = kind.suffix
        return _Calls(
            list=partial(getattr(api, f"list_namespaced_{suffix}"), namespace),
            create=partial(getattr(api, f"create_namespaced_{suffix}"), namespace),
            read=lambda name, **kw: getattr(api, f"read_namespaced_{suffix}")(
                name, namespace, **kw
            ),
            patch=lambda name, body, **kw: getattr(api, f"patch_namespaced_{suffix}")(
                name, namespace, body, **kw
            ),
            delete=lambda name, **kw: getattr(api, f"delete_namespaced_{suffix}")(
                name, namespace, **kw
            ),
        )


def _json(response: Any) -> Body:
    """Raw JSON: the typed models reject objects the sandbox stores without some field."""
    body: Body = json.loads(response.data)
    return body
