"""`python -m workers.dynsec_state`: the broker's initial accounts, from the settings."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
from pathlib import Path
from typing import Any

import pytest

from adapters.mqtt.dynsec import CONTROL_ROLE, DEVICE_ROLE, SERVICE_ROLE
from workers import dynsec_state

SERVICE_PASSWORD = "service-password-for-this-test-only"
CONTROL_PASSWORD = "control-password-for-this-test-only"


@pytest.fixture
def accounts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the working tree
    monkeypatch.setenv("EDGEWRIGHT_MQTT_USERNAME", "edgewright-service")
    monkeypatch.setenv("EDGEWRIGHT_MQTT_PASSWORD", SERVICE_PASSWORD)
    monkeypatch.setenv("EDGEWRIGHT_MQTT_CONTROL_USERNAME", "edgewright-control")
    monkeypatch.setenv("EDGEWRIGHT_MQTT_CONTROL_PASSWORD", CONTROL_PASSWORD)


def _clients(path: Path) -> dict[str, dict[str, Any]]:
    state = json.loads(path.read_text())
    return {client["username"]: client for client in state["clients"]}


def _verifies(client: dict[str, Any], password: str) -> bool:
    """The plugin's check: PBKDF2-SHA512 of the password with the stored salt."""
    salt = base64.b64decode(client["salt"])
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, client["iterations"], 64)
    return digest == base64.b64decode(client["password"])


@pytest.mark.usefixtures("accounts")
def test_it_writes_both_accounts_with_their_roles(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    path = tmp_path / "dynamic-security.json"
    assert dynsec_state.main([str(path)]) == 0
    clients = _clients(path)
    assert set(clients) == {"edgewright-service", "edgewright-control"}
    assert clients["edgewright-service"]["roles"] == [{"rolename": SERVICE_ROLE}]
    assert clients["edgewright-control"]["roles"] == [{"rolename": CONTROL_ROLE}]
    assert _verifies(clients["edgewright-service"], SERVICE_PASSWORD)
    assert _verifies(clients["edgewright-control"], CONTROL_PASSWORD)
    roles = {role["rolename"] for role in json.loads(path.read_text())["roles"]}
    assert {SERVICE_ROLE, CONTROL_ROLE, DEVICE_ROLE} <= roles
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "edgewright-service" in caplog.text
    assert SERVICE_PASSWORD not in caplog.text
    assert CONTROL_PASSWORD not in caplog.text


@pytest.mark.usefixtures("accounts")
def test_a_rerun_keeps_the_devices_and_takes_the_new_passwords(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The broker's pod restarts: the devices joined meanwhile must still get in.
    path = tmp_path / "dynamic-security.json"
    assert dynsec_state.main([str(path)]) == 0
    state = json.loads(path.read_text())
    device = {"username": "cam-1", "clientid": "cam-1", "roles": [{"rolename": DEVICE_ROLE}]}
    state["clients"].append(device)
    path.write_text(json.dumps(state))
    monkeypatch.setenv("EDGEWRIGHT_MQTT_PASSWORD", "a-rotated-service-password")
    assert dynsec_state.main([str(path)]) == 0
    clients = _clients(path)
    assert clients["cam-1"] == device
    assert _verifies(clients["edgewright-service"], "a-rotated-service-password")


@pytest.mark.usefixtures("accounts")
def test_without_the_control_account_it_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("EDGEWRIGHT_MQTT_CONTROL_PASSWORD")
    path = tmp_path / "dynamic-security.json"
    assert dynsec_state.main([str(path)]) == 2
    assert not path.exists()
    assert "EDGEWRIGHT_MQTT_CONTROL_USERNAME" in caplog.text
