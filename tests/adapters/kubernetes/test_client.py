"""connect_kube: which Kubernetes API the worker talks to."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kubernetes import client

from adapters.kubernetes.client import KubeConfigError, connect_kube
from store.settings import Settings


@pytest.fixture
def no_cluster(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing-kubeconfig"))
    return tmp_path


def test_connect_sandbox_is_labelled(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO"):
        target = connect_kube(Settings(kube_mode="sandbox", sandbox_url="http://127.0.0.1:9/"))
    assert target.mode == "sandbox"
    assert target.api_client.configuration.host == "http://127.0.0.1:9"
    assert "sandbox" in caplog.text


def test_connect_auto_without_cluster_falls_back(no_cluster: Path) -> None:
    assert connect_kube(Settings(kube_mode="auto")).mode == "sandbox"
    with pytest.raises(KubeConfigError, match="no cluster configuration"):
        connect_kube(Settings(kube_mode="cluster"))


def test_connect_auto_prefers_kubeconfig(no_cluster: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kubeconfig = no_cluster / "config"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://10.9.8.7:6443"}}],
                "users": [{"name": "u", "user": {"token": "t0ken"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    target = connect_kube(Settings(kube_mode="auto"))
    assert target.mode == "cluster"
    assert target.api_client.configuration.host == "https://10.9.8.7:6443"
    assert "t0ken" not in target.description
    assert client.Configuration.get_default_copy().host != "https://10.9.8.7:6443"
