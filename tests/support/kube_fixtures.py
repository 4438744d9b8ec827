"""The Kubernetes sandbox as a subprocess, and helpers that play the parts of the cluster.

`kube_sandbox_url` serves one sandbox for the whole session; `running_sandbox` starts one
more (e.g. to restart on the same state file). `make_node_ready` does what edgecore does
when it joins: registers the Node with the edge labels and reports it Ready;
`hold_rollouts` steers the sandbox's Deployment controller.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from simulator.kube_sandbox_rollouts import HOLD_ANNOTATION
from workers.processes import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]  # the checkout: `-m` runs its code
EDGE_NODE_LABELS = {"node-role.kubernetes.io/edge": "", "node-role.kubernetes.io/agent": ""}
MERGE_PATCH = "application/merge-patch+json"


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the Kubernetes sandbox exited early with code {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/api", timeout=1) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.05)
    raise TimeoutError(f"the Kubernetes sandbox did not answer at {url} within {timeout}s")


@contextmanager
def running_sandbox(*, state_path: Path, startup_timeout: float = 30.0) -> Iterator[str]:
    """Run `python -m simulator.kube_sandbox` on a free loopback port; yield its URL."""
    port = free_port()
    command = [sys.executable, "-m", "simulator.kube_sandbox", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--state", str(state_path)]
    proc = subprocess.Popen(command, cwd=REPO_ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, proc, timeout=startup_timeout)
        yield url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
    if code != 0:  # only reached when the body succeeded: a SIGTERM must end it cleanly
        raise RuntimeError(f"the Kubernetes sandbox exited with code {code} on SIGTERM")


@pytest.fixture(scope="session")
def kube_sandbox_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    state = tmp_path_factory.mktemp("kube-sandbox") / "sandbox-kube.json"
    with running_sandbox(state_path=state) as url:
        yield url


def sandbox_api_client(url: str) -> client.ApiClient:
    configuration = client.Configuration()
    configuration.host = url
    return client.ApiClient(configuration)


def make_node_ready(
    api_client: client.ApiClient,
    node_name: str,
    *,
    ready: bool = True,
    kubelet_version: str = "v1.30.7-kubeedge-v1.21.0",
) -> None:
    """Register Node `node_name` the way edgecore does, then report its Ready condition."""
    core = client.CoreV1Api(api_client)
    metadata = {"name": node_name, "labels": dict(EDGE_NODE_LABELS)}
    try:
        core.create_node({"apiVersion": "v1", "kind": "Node", "metadata": metadata})
    except ApiException as exc:
        if exc.status != 409:
            raise
        core.patch_node(node_name, {"metadata": metadata}, _content_type=MERGE_PATCH)
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    condition = {
        "type": "Ready",
        "status": "True" if ready else "False",
        "reason": "EdgeReady" if ready else "EdgeNotReady",
        "lastHeartbeatTime": now,
        "lastTransitionTime": now,
    }
    # Every field the client's NodeSystemInfo model insists on, as edgecore reports them.
    node_info = {
        "architecture": "amd64",
        "bootID": f"boot-{node_name}",
        "containerRuntimeVersion": "containerd://1.7.24",
        "kernelVersion": "6.1.0-28-amd64",
        "kubeProxyVersion": "",
        "kubeletVersion": kubelet_version,
        "machineID": f"machine-{node_name}",
        "operatingSystem": "linux",
        "osImage": "Debian GNU/Linux 12 (bookworm)",
        "systemUUID": f"uuid-{node_name}",
    }
    status = {"conditions": [condition], "nodeInfo": node_info}
    # Status is a subresource on a real API server: a create or a plain patch ignores it.
    core.patch_node_status(node_name, {"status": status}, _content_type=MERGE_PATCH)


def hold_rollouts(api_client: client.ApiClient, namespace: str, *, held: bool = True) -> None:
    """Steer the sandbox's Deployment controller: hold `namespace`'s rollouts unavailable
    (as pods that never become ready would), or let them complete again."""
    core = client.CoreV1Api(api_client)
    metadata = {"name": namespace, "annotations": {HOLD_ANNOTATION: "true" if held else None}}
    try:
        core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": metadata})
    except ApiException as exc:
        if exc.status != 409:
            raise
        core.patch_namespace(namespace, {"metadata": metadata}, _content_type=MERGE_PATCH)
