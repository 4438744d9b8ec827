"""The worker's RBAC is exactly what its code calls (tests/deploy/kube_calls.py derives it).

A call the Roles lack fails here, not in a customer's cluster with a 403; a rule no code
uses fails too, so permissions do not outlive the code that needed them.
"""

from __future__ import annotations

from typing import Any

import yaml

from activities.join.kubernetes import CA_SECRET
from adapters.kubernetes.manifests import rbac_bodies
from tests.deploy.kube_calls import Need, code_needs, typed_calls
from tests.deploy.kustomize import KUSTOMIZE
from workflows.contracts.join import NodeRbacInput

WORKER = {"kind": "ServiceAccount", "name": "edgewright-worker", "namespace": "edgewright"}
CLUSTER_SCOPED = {("", "nodes"), ("apps.kubeedge.io", "nodegroups")}


def _rbac() -> list[dict[str, Any]]:
    text = (KUSTOMIZE / "base" / "rbac.yaml").read_text()
    return [doc for doc in yaml.safe_load_all(text) if doc]


def _bound_roles() -> list[dict[str, Any]]:
    """The Roles and ClusterRoles bound to the worker's ServiceAccount."""
    docs = _rbac()
    roles = {(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]): d for d in docs}
    bound = []
    for binding in docs:
        if binding["kind"] not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        if WORKER not in binding["subjects"]:
            continue
        ref = binding["roleRef"]
        namespace = binding["metadata"].get("namespace") if ref["kind"] == "Role" else None
        bound.append(roles[(ref["kind"], namespace, ref["name"])])
    return bound


def _granted(roles: list[dict[str, Any]]) -> set[Need]:
    return {
        (group, resource, verb)
        for role in roles
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def _delegated() -> set[Need]:
    """What the Roles the worker creates for nodes grant: Kubernetes lets a ServiceAccount
    grant only permissions it holds itself (no `escalate`)."""
    role, _ = rbac_bodies(NodeRbacInput(namespace="edge-devices", node_name="node-a"))
    return _granted([role])


def test_the_scan_sees_the_adapter_calls() -> None:
    # Guards the derivation itself: calls known to exist must be found.
    calls = {method for _, method in typed_calls()}
    assert {"read_namespaced_secret", "delete_node", "create_namespaced_role"} <= calls
    assert "create_namespaced_config_map" in calls  # built with an f-string
    assert ("apps.kubeedge.io", "nodegroups", "create") in code_needs()  # a raw call


def test_the_roles_grant_every_call_the_code_makes() -> None:
    missing = code_needs() - _granted(_bound_roles())
    assert sorted(missing) == []


def test_the_roles_grant_nothing_the_code_does_not_use() -> None:
    unused = _granted(_bound_roles()) - code_needs() - _delegated()
    assert sorted(unused) == []


def test_cluster_scoped_kinds_come_from_the_cluster_role() -> None:
    for role in _bound_roles():
        for rule in role["rules"]:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    scoped = (group, resource) in CLUSTER_SCOPED
                    assert not scoped or role["kind"] == "ClusterRole", (group, resource)


def test_secrets_only_the_cloudcore_ca_in_its_namespace() -> None:
    for role in _bound_roles():
        for rule in role["rules"]:
            if "secrets" in rule["resources"]:
                assert role["kind"] == "Role"
                assert role["metadata"]["namespace"] == "kubeedge"
                assert rule["resourceNames"] == [CA_SECRET]
                assert rule["verbs"] == ["get"]


def test_the_namespaced_roles_live_where_the_settings_point() -> None:
    settings = yaml.safe_load((KUSTOMIZE / "base" / "settings.yaml").read_text())["data"]
    namespaces = {
        role["metadata"]["namespace"] for role in _bound_roles() if role["kind"] == "Role"
    }
    assert namespaces == {
        settings["EDGEWRIGHT_KUBEEDGE_NAMESPACE"],
        settings["EDGEWRIGHT_DEVICE_NAMESPACE"],
    }
