"""The embedded stack's MQTT accounts: generated once, kept private, given where needed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workers.processes import broker_accounts, broker_command, mosquitto_binary
from workers.stack import mqtt_environment


def test_the_services_accounts_are_generated_once_and_kept_private(tmp_path: Path) -> None:
    first = broker_accounts(tmp_path)
    assert broker_accounts(tmp_path) == first  # the next start finds them
    assert (tmp_path / "mqtt-accounts.json").stat().st_mode & 0o777 == 0o600
    assert first.service.username != first.control.username
    assert first.service.password != first.control.password
    assert len(first.service.password) >= 32
    assert broker_accounts(tmp_path / "elsewhere") != first  # never a built-in default
    assert first.service.password not in repr(first)


def test_only_the_worker_gets_the_control_account(tmp_path: Path) -> None:
    accounts = broker_accounts(tmp_path)
    everyone = mqtt_environment(accounts, control=False)
    worker = mqtt_environment(accounts, control=True)
    assert everyone["EDGEWRIGHT_MQTT_PASSWORD"] == accounts.service.password
    assert not any("CONTROL" in name for name in everyone)
    assert worker["EDGEWRIGHT_MQTT_CONTROL_PASSWORD"] == accounts.control.password


def test_mosquitto_authenticates_every_client(tmp_path: Path) -> None:
    if mosquitto_binary() is None:
        pytest.skip("needs Mosquitto (make system-deps)")
    accounts = broker_accounts(tmp_path)
    broker_command(port=1883, data_dir=tmp_path, accounts=accounts)
    config = (tmp_path / "mosquitto.conf").read_text()
    assert "allow_anonymous false" in config
    assert "mosquitto_dynamic_security.so" in config
    state_file = tmp_path / "dynamic-security.json"
    assert state_file.stat().st_mode & 0o777 == 0o600
    text = state_file.read_text()
    for secret in (accounts.service.password, accounts.control.password):
        assert secret not in text  # salted hashes only
    users = {client["username"] for client in json.loads(text)["clients"]}
    assert users == {accounts.service.username, accounts.control.username}
