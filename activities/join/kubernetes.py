"""Kubernetes side effects of the join saga: ConfigMap, Device resource, RBAC, Node status.

Activities are sync (the official client is sync) and run in the worker's thread pool. Every
write is create-or-adopt: on 409 the existing object is read, adopted when it carries our
labels for the same owner, and merge-patched to the desired state; otherwise it belongs to
someone else and the activity fails with a non-retryable Conflict. Deletes treat 404 as done
and leave objects without our managed-by label alone.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from temporalio import activity
from temporalio.exceptions import ApplicationError

from adapters.kubernetes.client import MERGE_PATCH, REQUEST_TIMEOUT, KubeTarget
from adapters.kubernetes.errors import describe, ignore_status, kube_errors
from adapters.kubernetes.manifests import (
    DEVICE_API,
    Body,
    adoption_patch,
    configmap_body,
    device_body,
    mqtt_secret_body,
    node_rbac_name,
    not_ours,
    rbac_bodies,
)
from workflows.contracts.common import (
    DEVICE_LABEL,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    NODE_LABEL,
    ErrorType,
    NodeRef,
    ObjectRef,
    TransientKubeError,
)
from workflows.contracts.join import (
    DeviceResourceInput,
    EdgecoreConfigMapInput,
    JoinActivity,
    NodeRbacInput,
    NodeStatus,
    edgecore_configmap_name,
    edgecore_mqtt_secret_name,
)

CA_SECRET = "casecret"  # noqa: S105  # the Secret's name, not a secret


@dataclass(frozen=True)
class _Object:
    """One named object and the typed client calls for it (they differ per API group)."""

    kind: str
    namespace: str
    name: str
    create: Callable[..., Any]  # (body) -> created
    read: Callable[..., Any]  # () -> model (called raw, see _read_json)
    patch: Callable[..., Any]  # (patch) -> patched
    delete: Callable[..., Any]  # (body=DeleteOptions) -> status


class KubeActivities:
    def __init__(self, *, target: KubeTarget) -> None:
        self._target = target
        self._core = client.CoreV1Api(target.api_client)
        self._rbac = client.RbacAuthorizationV1Api(target.api_client)
        self._custom = client.CustomObjectsApi(target.api_client)

    @property
    def target(self) -> KubeTarget:
        return self._target

    @activity.defn(name=JoinActivity.APPLY_EDGECORE_CONFIGMAP)
    def apply_edgecore_configmap(self, inp: EdgecoreConfigMapInput) -> ObjectRef:
        ref = ObjectRef(namespace=inp.namespace, name=edgecore_configmap_name(inp.node_name))
        self._apply(self._configmap(ref), body=configmap_body(inp), owner=DEVICE_LABEL)
        return ref

    @activity.defn(name=JoinActivity.DELETE_EDGECORE_CONFIGMAP)
    def delete_edgecore_configmap(self, ref: ObjectRef) -> None:
        _delete(self._configmap(ref))

    def apply_mqtt_secret(
        self, *, namespace: str, node_name: str, device_id: str, host: str, port: int, password: str
    ) -> None:
        """The Secret holding the device's MQTT account, beside its ConfigMap (never in it)."""
        body = mqtt_secret_body(
            namespace=namespace,
            node_name=node_name,
            device_id=device_id,
            host=host,
            port=port,
            password=password,
        )
        ref = ObjectRef(namespace=namespace, name=edgecore_mqtt_secret_name(node_name))
        self._apply(self._secret(ref), body=body, owner=DEVICE_LABEL)

    def delete_mqtt_secret(self, *, namespace: str, node_name: str) -> None:
        _delete(
            self._secret(ObjectRef(namespace=namespace, name=edgecore_mqtt_secret_name(node_name)))
        )

    @activity.defn(name=JoinActivity.APPLY_DEVICE_RESOURCE)
    def apply_device_resource(self, inp: DeviceResourceInput) -> ObjectRef:
        ref = ObjectRef(namespace=inp.namespace, name=inp.device_id)
        self._apply(self._device(ref), body=device_body(inp), owner=DEVICE_LABEL)
        return ref

    @activity.defn(name=JoinActivity.DELETE_DEVICE_RESOURCE)
    def delete_device_resource(self, ref: ObjectRef) -> None:
        _delete(self._device(ref))

    @activity.defn(name=JoinActivity.APPLY_NODE_RBAC)
    def apply_node_rbac(self, inp: NodeRbacInput) -> None:
        role, binding = rbac_bodies(inp)
        self._apply(self._role(inp), body=role, owner=NODE_LABEL)
        try:
            self._apply(self._binding(inp), body=binding, owner=NODE_LABEL)
        except ApplicationError as err:
            # Refused for good, the step counts as never done and the join's undo skips
            # it, so the Role made just now goes here (the fault suite found it left over).
            if err.non_retryable:
                _delete(self._role(inp))
            raise

    @activity.defn(name=JoinActivity.DELETE_NODE_RBAC)
    def delete_node_rbac(self, inp: NodeRbacInput) -> None:
        # The binding first: a binding left without its role grants nothing, the reverse would.
        _delete(self._binding(inp))
        _delete(self._role(inp))

    @activity.defn(name=JoinActivity.READ_NODE_STATUS)
    def read_node_status(self, ref: NodeRef) -> NodeStatus:
        with kube_errors(action="read", kind="Node", name=ref.node_name):
            try:
                node = _read_json(self._core.read_node, ref.node_name)
            except ApiException as exc:
                if exc.status != 404:
                    raise
                return NodeStatus(exists=False, ready=False)
        status = node.get("status") or {}
        conditions = status.get("conditions") or []
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
        version = (status.get("nodeInfo") or {}).get("kubeletVersion") or None
        return NodeStatus(exists=True, ready=ready, kubelet_version=version)

    def read_cluster_ca(self, namespace: str) -> tuple[bytes, bytes]:
        """CloudCore's CA certificate and private key as raw DER: (cadata, cakeydata)."""
        with kube_errors(action="read", kind="Secret", name=CA_SECRET, namespace=namespace):
            try:
                secret = self._core.read_namespaced_secret(
                    CA_SECRET, namespace, _request_timeout=REQUEST_TIMEOUT
                )
            except ApiException as exc:
                if exc.status != 404:
                    raise
                raise _missing_ca(namespace, "does not exist") from None
        data = secret.data or {}
        try:  # Secret data travels base64-encoded
            return base64.b64decode(data["cadata"]), base64.b64decode(data["cakeydata"])
        except KeyError as exc:
            raise _missing_ca(namespace, f"has no key {exc.args[0]!r}") from None
        except binascii.Error:
            raise _missing_ca(namespace, "holds a value that is not base64") from None

    def ping(self) -> str:
        """The API server's git version; "unknown" when only /api answers (the sandbox)."""
        api = self._target.api_client
        with kube_errors(action="ping", kind="API server", name=str(api.configuration.host)):
            try:
                return str(
                    client.VersionApi(api).get_code(_request_timeout=REQUEST_TIMEOUT).git_version
                )
            except ApiException as exc:
                if exc.status != 404:
                    raise
            # Raw: an answer is all we need, whatever fields the server left out.
            _read_json(client.CoreApi(api).get_api_versions)
            return "unknown"

    # --- the objects, bound to the typed clients --------------------------------------

    def _configmap(self, ref: ObjectRef) -> _Object:
        return _typed(self._core, "config_map", kind="ConfigMap", ref=ref)

    def _secret(self, ref: ObjectRef) -> _Object:
        return _typed(self._core, "secret", kind="Secret", ref=ref)

    def _role(self, inp: NodeRbacInput) -> _Object:
        ref = ObjectRef(namespace=inp.namespace, name=node_rbac_name(inp.node_name))
        return _typed(self._rbac, "role", kind="Role", ref=ref)

    def _binding(self, inp: NodeRbacInput) -> _Object:
        ref = ObjectRef(namespace=inp.namespace, name=node_rbac_name(inp.node_name))
        return _typed(self._rbac, "role_binding", kind="RoleBinding", ref=ref)

    def _device(self, ref: ObjectRef) -> _Object:
        custom, where = self._custom, (*DEVICE_API, ref.namespace, "devices")
        return _Object(
            kind="Device",
            namespace=ref.namespace,
            name=ref.name,
            create=partial(custom.create_namespaced_custom_object, *where),
            read=partial(custom.get_namespaced_custom_object, *where, ref.name),
            patch=partial(custom.patch_namespaced_custom_object, *where, ref.name),
            delete=partial(custom.delete_namespaced_custom_object, *where, ref.name),
        )

    # --- create-or-adopt ---------------------------------------------------------------

    def _apply(self, obj: _Object, *, body: Body, owner: str) -> None:
        """Create `body`, or adopt the existing object when it is ours for the same owner."""
        with kube_errors(action="apply", kind=obj.kind, name=obj.name, namespace=obj.namespace):
            try:
                obj.create(body, _request_timeout=REQUEST_TIMEOUT)
                activity.logger.info("Created %s %s/%s", obj.kind, obj.namespace, obj.name)
                return
            except ApiException as exc:
                if exc.status != 409:
                    raise
            try:
                existing = _read_json(obj.read)
            except ApiException as exc:
                if exc.status != 404:
                    raise
                # Deleted between our create and our read: the retry will simply create it.
                raise _adoption_error(obj, "vanished while being adopted") from None
            if (existing.get("metadata") or {}).get("deletionTimestamp"):
                raise _adoption_error(obj, "still being deleted")
            problem = not_ours(existing, desired=body, owner=owner)
            if problem:
                raise _adoption_error(obj, f"{problem}; refusing to adopt it", final=True)
            patch = adoption_patch(existing=existing, desired=body)
            obj.patch(patch, _content_type=MERGE_PATCH, _request_timeout=REQUEST_TIMEOUT)
            activity.logger.info("Adopted %s %s/%s", obj.kind, obj.namespace, obj.name)


def _read_json(read: Callable[..., Any], *args: Any) -> Body:
    """GET as the JSON the API sent: the typed models reject objects missing a field they
    call required (the sandbox stores whatever it is given), and we want camelCase anyway."""
    response = read(*args, _preload_content=False, _request_timeout=REQUEST_TIMEOUT)
    body: Body = json.loads(response.data)  # reading it all hands the connection back
    return body


def _typed(api: Any, suffix: str, *, kind: str, ref: ObjectRef) -> _Object:
    """Bind a typed client's `{verb}_namespaced_{suffix}` methods to one object."""
    ns, name = ref.namespace, ref.name
    return _Object(
        kind=kind,
        namespace=ns,
        name=name,
        create=partial(getattr(api, f"create_namespaced_{suffix}"), ns),
        read=partial(getattr(api, f"read_namespaced_{suffix}"), name, ns),
        patch=partial(getattr(api, f"patch_namespaced_{suffix}"), name, ns),
        delete=partial(getattr(api, f"delete_namespaced_{suffix}"), name, ns),
    )


def _delete(obj: _Object) -> None:
    """Delete one object of ours; gone (404) counts as done, someone else's is left alone."""
    with (
        kube_errors(action="delete", kind=obj.kind, name=obj.name, namespace=obj.namespace),
        ignore_status(404),
    ):
        meta = _read_json(obj.read).get("metadata") or {}
        if (meta.get("labels") or {}).get(MANAGED_BY_LABEL) != MANAGED_BY:
            activity.logger.warning(
                "Left %s %s/%s alone: not managed by edgewright", obj.kind, obj.namespace, obj.name
            )
            return
        # The precondition makes a same-named object created since our read a (retried) 409.
        uid = meta.get("uid")
        options = {"preconditions": {"uid": uid}} if uid else None
        obj.delete(body=options, _request_timeout=REQUEST_TIMEOUT)


def _adoption_error(obj: _Object, problem: str, *, final: bool = False) -> ApplicationError:
    what = describe(action="apply", kind=obj.kind, name=obj.name, namespace=obj.namespace)
    if final:  # someone else's object: retrying will not make it ours
        return ApplicationError(f"{what}: {problem}", type=ErrorType.CONFLICT, non_retryable=True)
    return ApplicationError(f"{what}: {problem}", type=TransientKubeError.CONFLICT)


def _missing_ca(namespace: str, problem: str) -> ApplicationError:
    return ApplicationError(
        f"Secret {namespace}/{CA_SECRET} {problem}. CloudCore creates it on its first start: "
        f"is CloudCore installed in namespace {namespace!r}, and is that the configured "
        "EDGEWRIGHT_KUBEEDGE_NAMESPACE?",
        type=ErrorType.MISSING_CLUSTER_CA,
        non_retryable=True,
    )
