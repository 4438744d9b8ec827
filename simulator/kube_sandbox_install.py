"""CloudCore's Deployment and Service as KubeEdge's Helm chart installs them, for the sandbox.

From kubeedge/kubeedge `manifests/charts/cloudcore` (templates `deployment_cloudcore.yaml`
and `service_cloudcore.yaml`, default values): both named `cloudcore` in `kubeedge`,
labelled `k8s-app: kubeedge, kubeedge: cloudcore`, the five CloudCore ports 10000-10004
and, as the chart's NodePort service, node ports 30000-30004. Only what edgewright reads
is kept (no RBAC, volumes or security context: the sandbox runs no pods).
"""

from __future__ import annotations

from typing import Any

KUBEEDGE_NAMESPACE = "kubeedge"
NAME = "cloudcore"
# The version the sandbox's simulated edge nodes report (kubelet v1.30.7-kubeedge-v1.21.0).
IMAGE = "kubeedge/cloudcore:v1.21.0"
LABELS = {"k8s-app": "kubeedge", "kubeedge": "cloudcore"}
# (name, port, protocol, node port), as the chart's Service names them.
PORTS = (
    ("cloudhub", 10000, "TCP", 30000),
    ("cloudhub-quic", 10001, "UDP", 30001),
    ("cloudhub-https", 10002, "TCP", 30002),
    ("cloudstream", 10003, "TCP", 30003),
    ("tunnelport", 10004, "TCP", 30004),
)


def deployment() -> dict[str, Any]:
    container = {
        "name": NAME,
        "image": IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "ports": [
            {"name": name, "containerPort": port, "protocol": "TCP"}
            for name, port, _protocol, _node_port in PORTS
        ],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        # generation: the emulator never sets it (see simulator/kube_sandbox_workloads.py).
        "metadata": {
            "name": NAME,
            "namespace": KUBEEDGE_NAMESPACE,
            "labels": dict(LABELS),
            "generation": 1,
        },
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": dict(LABELS)},
            "template": {
                "metadata": {"labels": dict(LABELS)},
                "spec": {
                    "serviceAccount": NAME,
                    "restartPolicy": "Always",
                    "containers": [container],
                },
            },
        },
    }


def service() -> dict[str, Any]:
    ports = [
        {"name": name, "port": port, "targetPort": port, "protocol": protocol, "nodePort": node}
        for name, port, protocol, node in PORTS
    ]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": NAME, "namespace": KUBEEDGE_NAMESPACE, "labels": dict(LABELS)},
        "spec": {"type": "NodePort", "selector": dict(LABELS), "ports": ports},
    }
