"""Which Kubernetes API the worker talks to: a real cluster or the local sandbox.

`connect_kube` builds a fresh `Configuration` for the chosen target and never touches the
kubernetes package's global default, so tests and processes can hold several targets.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from kubernetes import client, config

from store.settings import KubeMode, Settings

# (connect, read) seconds: a hung API server must not pin a worker thread forever.
REQUEST_TIMEOUT = (5.0, 30.0)
MERGE_PATCH = "application/merge-patch+json"  # one patch semantics for built-ins and CRs

logger = logging.getLogger(__name__)

_IN_CLUSTER_ENV = "KUBERNETES_SERVICE_HOST"


class KubeConfigError(RuntimeError):
    """No usable Kubernetes configuration for the requested mode."""


@dataclass(frozen=True)
class KubeTarget:
    mode: Literal["cluster", "sandbox"]
    description: str  # for logs and health checks; never holds credentials
    api_client: client.ApiClient


def connect_kube(settings: Settings) -> KubeTarget:
    """Pick the Kubernetes API from `settings.kube_mode` and log the choice."""
    if settings.kube_mode is KubeMode.SANDBOX:
        return _sandbox(settings.sandbox_url)
    target = _cluster()
    if target is not None:
        logger.info("Kubernetes: %s", target.description)
        return target
    if settings.kube_mode is KubeMode.CLUSTER:
        raise KubeConfigError(
            "EDGEWRIGHT_KUBE_MODE=cluster, but no cluster configuration was found: "
            f"{_IN_CLUSTER_ENV} is not set (not running in a pod) and neither $KUBECONFIG nor "
            "~/.kube/config names an existing file. Provide one, or use "
            "EDGEWRIGHT_KUBE_MODE=auto to fall back to the local sandbox."
        )
    return _sandbox(settings.sandbox_url)


def _cluster() -> KubeTarget | None:
    """In-cluster config first (we run in a pod), then kubeconfig; None when neither exists."""
    configuration = client.Configuration()
    if os.environ.get(_IN_CLUSTER_ENV):
        config.load_incluster_config(client_configuration=configuration)
        return KubeTarget(
            mode="cluster",
            description=f"in-cluster service account, API {configuration.host}",
            api_client=client.ApiClient(configuration),
        )
    kubeconfig = _kubeconfig_paths()
    if not kubeconfig:
        return None
    files = os.pathsep.join(str(path) for path in kubeconfig)
    # persist_config=False: a server process must not rewrite the operator's kubeconfig.
    config.load_kube_config(
        config_file=files, client_configuration=configuration, persist_config=False
    )
    return KubeTarget(
        mode="cluster",
        description=f"kubeconfig {files}, API {configuration.host}",
        api_client=client.ApiClient(configuration),
    )


def _kubeconfig_paths() -> list[Path]:
    # Read $KUBECONFIG now: the kubernetes package captures it once, at import time.
    listed = os.environ.get("KUBECONFIG")
    candidates = listed.split(os.pathsep) if listed else ["~/.kube/config"]
    paths = [Path(entry).expanduser() for entry in candidates if entry]
    return [path for path in paths if path.is_file()]


def _sandbox(url: str) -> KubeTarget:
    configuration = client.Configuration()
    configuration.host = url.rstrip("/")
    description = f"sandbox: local Kubernetes API emulator at {configuration.host}, not a cluster"
    logger.warning("Kubernetes: %s", description)
    return KubeTarget(
        mode="sandbox", description=description, api_client=client.ApiClient(configuration)
    )
