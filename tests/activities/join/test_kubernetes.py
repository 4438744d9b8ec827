"""KubeActivities over HTTP against the Kubernetes sandbox, with the official client."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import stat
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.join.kubernetes import KubeActivities
from adapters.kubernetes.client import KubeTarget, connect_kube
from adapters.kubernetes.manifests import node_rbac_name
from simulator.kube_sandbox import sandbox_server
from store.settings import KubeMode, Settings
from tests.support.kube_fixtures import (
    kube_sandbox_url,  # noqa: F401
    make_node_ready,
    running_sandbox,
    sandbox_api_client,
)
from workflows.contracts.common import (
    DEVICE_LABEL,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    NODE_LABEL,
    ErrorType,
    NodeRef,
    ObjectRef,
)
from workflows.contracts.join import DeviceResourceInput, EdgecoreConfigMapInput, NodeRbacInput

env = ActivityEnvironment()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def target(kube_sandbox_url: str) -> KubeTarget:  # noqa: F811
    return connect_kube(Settings(kube_mode=KubeMode.SANDBOX, sandbox_url=kube_sandbox_url))


@pytest.fixture
def acts(target: KubeTarget) -> KubeActivities:
    return KubeActivities(target=target)


@pytest.fixture
def core(target: KubeTarget) -> client.CoreV1Api:
    return client.CoreV1Api(target.api_client)


def configmap_input(device_id: str, node_name: str, **overrides: object) -> EdgecoreConfigMapInput:
    fields: dict[str, object] = {
        "device_id": device_id,
        "node_name": node_name,
        "namespace": "default",
        "cloudcore_host": "10.0.0.5",
        "cloudcore_port": 10000,
        "device_type": "camera",
        "location": "Dock 4, north wall",
        "configuration": {"fps": 15, "night_mode": True},
    }
    return EdgecoreConfigMapInput.model_validate(fields | overrides)


def expect_error(call: object, *args: object) -> ApplicationError:
    with pytest.raises(ApplicationError) as info:
        env.run(call, *args)  # type: ignore[arg-type]
    return info.value


# --- edgecore ConfigMap ------------------------------------------------------------------


def test_configmap_apply_twice_adopts(acts: KubeActivities, core: client.CoreV1Api) -> None:
    device, node = unique("cam"), unique("edge")
    first = env.run(acts.apply_edgecore_configmap, configmap_input(device, node))
    second = env.run(acts.apply_edgecore_configmap, configmap_input(device, node))

    assert first == second == ObjectRef(namespace="default", name=f"edgecore-config-{node}")
    cm = core.read_namespaced_config_map(first.name, "default")
    assert cm.metadata.labels == {
        MANAGED_BY_LABEL: MANAGED_BY,
        DEVICE_LABEL: device,
        NODE_LABEL: node,
    }
    assert cm.data["cloudcore"] == "10.0.0.5:10000"
    assert cm.data["nodeName"] == node
    assert cm.data["deviceId"] == device
    assert json.loads(cm.data["configuration"]) == {"fps": 15, "night_mode": True}


def test_configmap_adopt_rewrites_drifted_data(
    acts: KubeActivities, core: client.CoreV1Api
) -> None:
    device, node = unique("cam"), unique("edge")
    name = f"edgecore-config-{node}"
    labels = {MANAGED_BY_LABEL: MANAGED_BY, DEVICE_LABEL: device, "team": "ops"}
    stale = {"cloudcore": "1.2.3.4:1", "leftover": "x"}
    meta = {"name": name, "namespace": "default", "labels": labels}
    core.create_namespaced_config_map("default", {"metadata": meta, "data": stale})

    env.run(acts.apply_edgecore_configmap, configmap_input(device, node, cloudcore_port=10002))

    cm = core.read_namespaced_config_map(name, "default")
    assert cm.data["cloudcore"] == "10.0.0.5:10002"
    assert "leftover" not in cm.data
    assert cm.metadata.labels["team"] == "ops"  # foreign labels survive adoption
    assert cm.metadata.labels[NODE_LABEL] == node


@pytest.mark.parametrize(
    "labels",
    [{}, {MANAGED_BY_LABEL: MANAGED_BY, DEVICE_LABEL: "someone-else"}],
    ids=["foreign", "other-device"],
)
def test_configmap_conflict_is_final(
    acts: KubeActivities, core: client.CoreV1Api, labels: dict[str, str]
) -> None:
    device, node = unique("cam"), unique("edge")
    name = f"edgecore-config-{node}"
    meta = {"name": name, "namespace": "default", "labels": labels}
    core.create_namespaced_config_map("default", {"metadata": meta, "data": {"mine": "yes"}})

    error = expect_error(acts.apply_edgecore_configmap, configmap_input(device, node))

    assert error.type == ErrorType.CONFLICT
    assert error.non_retryable
    assert name in error.message
    if not labels:  # a delete (say, a compensation) leaves what is not edgewright's alone
        env.run(acts.delete_edgecore_configmap, ObjectRef(namespace="default", name=name))
    assert core.read_namespaced_config_map(name, "default").data == {"mine": "yes"}


def test_configmap_delete_twice(acts: KubeActivities, core: client.CoreV1Api) -> None:
    ref = env.run(acts.apply_edgecore_configmap, configmap_input(unique("cam"), unique("edge")))
    env.run(acts.delete_edgecore_configmap, ref)
    env.run(acts.delete_edgecore_configmap, ref)
    with pytest.raises(ApiException) as info:
        core.read_namespaced_config_map(ref.name, ref.namespace)
    assert info.value.status == 404


# --- Device resource ---------------------------------------------------------------------


def test_device_apply_twice_delete_twice(acts: KubeActivities, target: KubeTarget) -> None:
    custom = client.CustomObjectsApi(target.api_client)
    device, node = unique("cam"), unique("edge")
    inp = DeviceResourceInput(
        device_id=device, node_name=node, namespace="default", location="Dock 4"
    )
    ref = env.run(acts.apply_device_resource, inp)
    assert (
        env.run(acts.apply_device_resource, inp)
        == ref
        == ObjectRef(namespace="default", name=device)
    )

    obj = custom.get_namespaced_custom_object(
        "devices.kubeedge.io", "v1beta1", "default", "devices", device
    )
    assert obj["kind"] == "Device"
    assert obj["spec"] == {"deviceModelRef": {"name": "generic"}, "nodeName": node}
    assert obj["metadata"]["labels"][DEVICE_LABEL] == device
    assert obj["metadata"]["annotations"]["edgewright.io/location"] == "Dock 4"

    env.run(acts.delete_device_resource, ref)
    env.run(acts.delete_device_resource, ref)
    with pytest.raises(ApiException) as info:
        custom.get_namespaced_custom_object(
            "devices.kubeedge.io", "v1beta1", "default", "devices", device
        )
    assert info.value.status == 404


def test_device_conflict_is_final(acts: KubeActivities, target: KubeTarget) -> None:
    device = unique("cam")
    body = {
        "apiVersion": "devices.kubeedge.io/v1beta1",
        "kind": "Device",
        "metadata": {"name": device, "namespace": "default"},
        "spec": {"deviceModelRef": {"name": "thermometer"}},
    }
    client.CustomObjectsApi(target.api_client).create_namespaced_custom_object(
        "devices.kubeedge.io", "v1beta1", "default", "devices", body
    )
    inp = DeviceResourceInput(device_id=device, node_name=unique("edge"), namespace="default")
    error = expect_error(acts.apply_device_resource, inp)
    assert (error.type, error.non_retryable) == (ErrorType.CONFLICT, True)


# --- node RBAC ---------------------------------------------------------------------------


def test_node_rbac_apply_twice_delete_twice(acts: KubeActivities, target: KubeTarget) -> None:
    rbac = client.RbacAuthorizationV1Api(target.api_client)
    node = unique("edge")
    inp = NodeRbacInput(node_name=node, namespace="kubeedge")
    env.run(acts.apply_node_rbac, inp)
    env.run(acts.apply_node_rbac, inp)

    name = node_rbac_name(node)
    role = rbac.read_namespaced_role(name, "kubeedge")
    configmaps, secrets = role.rules
    assert configmaps.resources == ["configmaps"]
    assert configmaps.resource_names == [f"edgecore-config-{node}"]
    assert sorted(configmaps.verbs) == ["get", "list", "watch"]
    # Its own MQTT Secret and no other: read, never list.
    assert secrets.resources == ["secrets"]
    assert secrets.resource_names == [f"edgecore-mqtt-{node}"]
    assert sorted(secrets.verbs) == ["get", "watch"]
    binding = rbac.read_namespaced_role_binding(name, "kubeedge")
    assert binding.role_ref.name == name
    assert [(s.kind, s.name) for s in binding.subjects] == [("User", f"system:node:{node}")]
    assert binding.metadata.labels[NODE_LABEL] == node

    env.run(acts.delete_node_rbac, inp)
    env.run(acts.delete_node_rbac, inp)
    for read in (rbac.read_namespaced_role, rbac.read_namespaced_role_binding):
        with pytest.raises(ApiException) as info:
            read(name, "kubeedge")
        assert info.value.status == 404


def test_node_rbac_refused_binding_leaves_no_role(acts: KubeActivities, target: KubeTarget) -> None:
    rbac = client.RbacAuthorizationV1Api(target.api_client)
    node = unique("edge")
    name = node_rbac_name(node)
    # Someone else's RoleBinding under our name: adopting it is refused for good.
    foreign = {
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "theirs"},
        "subjects": [],
    }
    rbac.create_namespaced_role_binding("kubeedge", foreign)
    inp = NodeRbacInput(node_name=node, namespace="kubeedge")

    error = expect_error(acts.apply_node_rbac, inp)

    assert error.non_retryable
    with pytest.raises(ApiException) as info:
        rbac.read_namespaced_role(name, "kubeedge")
    assert info.value.status == 404
    assert rbac.read_namespaced_role_binding(name, "kubeedge").role_ref.name == "theirs"


# --- Node status -------------------------------------------------------------------------


def test_node_status_absent_not_ready_ready(acts: KubeActivities, target: KubeTarget) -> None:
    node = unique("edge")
    absent = env.run(acts.read_node_status, NodeRef(node_name=node))
    assert (absent.exists, absent.ready) == (False, False)

    make_node_ready(target.api_client, node, ready=False)
    joining = env.run(acts.read_node_status, NodeRef(node_name=node))
    assert (joining.exists, joining.ready) == (True, False)

    make_node_ready(target.api_client, node)
    ready = env.run(acts.read_node_status, NodeRef(node_name=node))
    assert (ready.exists, ready.ready) == (True, True)
    assert ready.kubelet_version == "v1.30.7-kubeedge-v1.21.0"
    labels = client.CoreV1Api(target.api_client).read_node(node).metadata.labels
    assert labels["node-role.kubernetes.io/edge"] == ""


# --- CloudCore CA and token --------------------------------------------------------------


def test_cluster_ca_is_cloudcores(acts: KubeActivities, core: client.CoreV1Api) -> None:
    cadata, cakeydata = acts.read_cluster_ca("kubeedge")

    cert = x509.load_der_x509_certificate(cadata)
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    key = serialization.load_der_private_key(cakeydata, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert isinstance(key.curve, ec.SECP256R1)
    assert key.public_key() == cert.public_key()
    sec1 = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    assert cakeydata == sec1  # SEC1 "EC PRIVATE KEY", as Go's x509.MarshalECPrivateKey

    # CloudCore's own cluster token verifies against this CA...
    secret = core.read_namespaced_secret("tokensecret", "kubeedge")
    ca_hash, _, signed = base64.b64decode(secret.data["tokendata"]).decode().partition(".")
    assert ca_hash == hashlib.sha256(cadata).hexdigest()
    claims = jwt.decode(signed, cakeydata, algorithms=["HS256"])
    assert claims["exp"] > (datetime.now(UTC) + timedelta(hours=12)).timestamp() - 60
    # ...and so does one we mint with the key.
    ours = jwt.encode({"exp": datetime.now(UTC) + timedelta(minutes=5)}, cakeydata, "HS256")
    assert jwt.decode(ours, cakeydata, algorithms=["HS256"])["exp"]


def test_cluster_ca_missing(acts: KubeActivities, core: client.CoreV1Api) -> None:
    error = expect_error(acts.read_cluster_ca, "no-cloudcore-here")
    assert (error.type, error.non_retryable) == (ErrorType.MISSING_CLUSTER_CA, True)
    assert "no-cloudcore-here/casecret" in error.message

    namespace = unique("half")
    meta = {"name": "casecret", "namespace": namespace}
    only_cert = {"cadata": base64.b64encode(b"cert").decode()}
    core.create_namespaced_secret(namespace, {"metadata": meta, "data": only_cert})
    error = expect_error(acts.read_cluster_ca, namespace)
    assert error.type == ErrorType.MISSING_CLUSTER_CA
    assert "cakeydata" in error.message


# --- the sandbox itself -------------------------------------------------------------------


def test_ping_and_discovery(acts: KubeActivities, target: KubeTarget) -> None:
    assert acts.ping() == "unknown"  # the sandbox has no /version
    namespaces = client.CoreV1Api(target.api_client).list_namespace()
    assert {"default", "kubeedge"} <= {ns.metadata.name for ns in namespaces.items}
    assert client.CoreV1Api(target.api_client).read_namespace("kubeedge").metadata.name
    empty = unique("empty")
    assert client.CoreV1Api(target.api_client).list_namespaced_pod(empty).items == []
    assert client.AppsV1Api(target.api_client).list_namespaced_deployment(empty).items == []
    devices = client.CustomObjectsApi(target.api_client).list_namespaced_custom_object(
        "devices.kubeedge.io", "v1beta1", empty, "devices"
    )
    assert devices["items"] == []


def test_sandbox_watch(core: client.CoreV1Api) -> None:
    namespace = unique("watched")
    meta = {"name": "first", "namespace": namespace}
    threading.Timer(0.3, core.create_namespaced_config_map, (namespace, {"metadata": meta})).start()
    stream, seen = watch.Watch(), []
    for event in stream.stream(core.list_namespaced_config_map, namespace, _request_timeout=10):
        seen.append((event["type"], event["object"].metadata.name))
        stream.stop()
    assert seen == [("ADDED", "first")]


def test_state_survives_restart(tmp_path: Path) -> None:
    state = tmp_path / "sandbox-kube.json"
    node = unique("edge")
    with running_sandbox(state_path=state) as url:
        acts = KubeActivities(target=connect_kube(Settings(kube_mode="sandbox", sandbox_url=url)))
        before = acts.read_cluster_ca("kubeedge")
        ref = env.run(acts.apply_edgecore_configmap, configmap_input(unique("cam"), node))
        # Saved within a few seconds of the change, not only on the way out.
        deadline = time.monotonic() + 10
        while ref.name not in state.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert ref.name in state.read_text()
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o600  # it holds the CA key

    with running_sandbox(state_path=state) as url:
        acts = KubeActivities(target=connect_kube(Settings(kube_mode="sandbox", sandbox_url=url)))
        assert acts.read_cluster_ca("kubeedge") == before
        core = client.CoreV1Api(sandbox_api_client(url))
        assert core.read_namespaced_config_map(ref.name, ref.namespace).data["nodeName"] == node


async def test_sandbox_in_process(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    async with sandbox_server(host="127.0.0.1", port=0, state_path=state) as url:
        acts = KubeActivities(target=connect_kube(Settings(kube_mode="sandbox", sandbox_url=url)))
        cadata, _ = await asyncio.to_thread(acts.read_cluster_ca, "kubeedge")
    assert x509.load_der_x509_certificate(cadata).subject.rfc4514_string() == "CN=KubeEdge"
    assert "casecret" in state.read_text()
