"""End to end over HTTP: backups and restores through the API, run by the real worker on
the dev server, against the store, the Kubernetes sandbox and moto's S3 (or a directory)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from temporalio.testing import WorkflowEnvironment

from store.devices import inventory as devices
from store.runtime_config import save_runtime_config
from tests.e2e.stack import Stack, running_stack, stack_settings
from tests.support.backup_inventory import device_names, picture, populate
from tests.support.mqtt_fixtures import Broker
from tests.support.storage_fixtures import Target

# The seed's request; the name gets a suffix per test, since IDs are business keys and
# every test shares one Temporal namespace.
SEED_BACKUP = {
    "name": "backup-20240115",
    "include": ["config", "tokens", "devices"],
    "description": "Daily backup",
}


@pytest.fixture
async def stack(
    dev_env: WorkflowEnvironment,
    kube_sandbox_url: str,
    mqtt_broker: Broker,
    backup_target: Target,
    tmp_path: Path,
) -> AsyncIterator[Stack]:
    tag = uuid.uuid4().hex[:8]
    settings = stack_settings(
        data_dir=tmp_path, temporal=dev_env.client, sandbox_url=kube_sandbox_url, broker=mqtt_broker
    ).model_copy(
        update={
            "backup_location": backup_target.location,
            "backup_s3_endpoint_url": backup_target.endpoint,
            "backup_s3_region": "us-east-1",
            "kubeedge_namespace": f"ke-{tag}",
            "device_namespace": f"dev-{tag}",
            "backup_answer_timeout_seconds": 60.0,
            "backup_keep_last": 0,
            "backup_keep_days": 0,
        }
    )
    async with running_stack(settings, dev_env.client) as running:
        yield running


async def inventory(stack: Stack) -> dict[str, Any]:
    return await picture(stack.sessions, settings=stack.settings, api_client=stack.kube.api_client)


async def mutate(stack: Stack, prefix: str) -> None:
    async with stack.sessions() as session, session.begin():
        await devices.delete_device(session, device_id=device_names(prefix, 4)[0][0])
        await devices.upsert_device(
            session, device_id=f"{prefix}-new", node_name=f"{prefix}-new", status="joined"
        )
        await save_runtime_config(session, changes={"max_devices": 3}, settings=stack.settings)
    ns = stack.settings.kubeedge_namespace
    name = f"edgecore-config-{device_names(prefix, 4)[0][1]}"
    k8s.CoreV1Api(stack.kube.api_client).delete_namespaced_config_map(name, ns)


async def test_backup_and_restore_over_http(stack: Stack) -> None:
    auth, prefix = await stack.login(), uuid.uuid4().hex[:6]
    await populate(stack.sessions, settings=stack.settings, kube=stack.kube, prefix=prefix)
    before = await inventory(stack)
    name = f"backup-20240115-{prefix}"
    seed = {**SEED_BACKUP, "name": name}

    answer = await stack.http.post("/api/kubeedge/backup", json=seed, headers=auth)
    assert answer.status_code == 200, answer.text
    made = answer.json()
    assert made["status"] == "success"
    assert made["backup_id"] == name
    assert made["location"] == f"{stack.settings.backup_base_url}/{name}.tar.gz"
    assert made["size"].endswith("B")
    assert made["created_at"]
    assert made["backup_status"] == "completed"
    assert made["workflow_id"] == f"backup/{name}"
    assert f"backup%2F{name}" in made["temporal_ui_url"]
    assert {part["name"] for part in made["parts"]} >= {"config", "devices", "kube/configmaps"}
    assert "commands" not in {part["name"] for part in made["parts"]}  # not included

    again = await stack.http.post("/api/kubeedge/backup", json=seed, headers=auth)
    assert again.status_code == 200
    assert again.json()["created_at"] == made["created_at"]  # the same backup, not a new one
    other = {**seed, "description": "another"}
    conflict = await stack.http.post("/api/kubeedge/backup", json=other, headers=auth)
    assert conflict.status_code == 409
    assert conflict.json()["code"] == "API-005"

    listed = (await stack.http.get("/api/kubeedge/backups", headers=auth)).json()
    assert listed["count"] == 1
    assert listed["pagination"] == {"total": 1, "page": 1, "limit": 20, "pages": 1}
    detail = await stack.http.get(f"/api/kubeedge/backups/{name}", headers=auth)
    assert detail.json()["sha256"] == made["sha256"]

    await mutate(stack, prefix)
    changed = await inventory(stack)
    body = {"backup_id": name, "mode": "replace", "dry_run": True}
    dry = await stack.http.post("/api/kubeedge/restore", json=body, headers=auth)
    assert dry.status_code == 200, dry.text
    assert dry.json()["restore_status"] == "completed"
    changes = {c["name"]: c for c in dry.json()["changes"]}
    assert changes["devices"]["create"] == 1
    assert changes["devices"]["delete"] == 1
    assert changes["kube/configmaps"]["create"] == 1
    assert await inventory(stack) == changed  # a dry run changes nothing

    restore_id = f"r-{prefix}"
    body = {"backup_id": name, "mode": "replace", "restore_id": restore_id}
    restored = await stack.http.post("/api/kubeedge/restore", json=body, headers=auth)
    assert restored.status_code == 200, restored.text
    result = restored.json()
    assert result["restore_status"] == "completed"
    assert result["safety_backup_id"] == f"safety-{restore_id}"
    assert await inventory(stack) == before
    follow = await stack.http.get(f"/api/kubeedge/restores/{restore_id}", headers=auth)
    assert follow.json()["restore_status"] == "completed"
    kinds = [
        b["kind"]
        for b in (await stack.http.get("/api/kubeedge/backups", headers=auth)).json()["backups"]
    ]
    assert sorted(kinds) == ["manual", "safety"]


@pytest.mark.parametrize("backup_target", ["s3"], indirect=True)
async def test_failure_while_applying_undoes_what_it_changed(stack: Stack) -> None:
    auth, prefix = await stack.login(), uuid.uuid4().hex[:6]
    await populate(stack.sessions, settings=stack.settings, kube=stack.kube, prefix=prefix)
    made = await stack.http.post("/api/kubeedge/backup", json={"name": prefix}, headers=auth)
    assert made.status_code == 200, made.text
    await mutate(stack, prefix)
    # Someone else's ConfigMap now holds a name the restore must recreate: applying the
    # Kubernetes objects fails after the store rows have already been restored.
    ns = stack.settings.kubeedge_namespace
    name = f"edgecore-config-{device_names(prefix, 4)[0][1]}"
    foreign = {"metadata": {"name": name, "namespace": ns}, "data": {"owner": "someone"}}
    k8s.CoreV1Api(stack.kube.api_client).create_namespaced_config_map(ns, foreign)
    changed = await inventory(stack)

    body = {"backup_id": prefix, "mode": "replace", "restore_id": f"r-{prefix}"}
    answer = await stack.http.post("/api/kubeedge/restore", json=body, headers=auth)
    assert answer.status_code == 409, answer.text
    error = answer.json()
    assert error["code"] == "API-005"
    assert error["details"]["error_type"] == "RestoreConflict"
    assert error["details"]["restore_status"] == "rolled_back"
    assert error["details"]["rolled_back"] is True
    assert error["details"]["safety_backup_id"] == f"safety-r-{prefix}"
    rollback = error["details"]["rollback"]
    assert rollback["restored"] > 0
    assert (rollback["kept"], rollback["kept_changes"]) == (0, [])
    assert await inventory(stack) == changed  # exactly as before the restore began
    cm = k8s.CoreV1Api(stack.kube.api_client).read_namespaced_config_map(name, ns)
    assert cm.data == {"owner": "someone"}  # and the stranger's object untouched


@pytest.mark.parametrize("backup_target", ["s3"], indirect=True)
async def test_refusals_answer_in_the_contracts_envelope(stack: Stack) -> None:
    auth = await stack.login()
    before = await inventory(stack)
    missing = await stack.http.post(
        "/api/kubeedge/restore", json={"backup_id": "no-such-backup"}, headers=auth
    )
    assert missing.status_code == 404, missing.text
    assert missing.json()["code"] == "API-004"
    assert missing.json()["details"]["error_type"] == "ArchiveMissing"
    assert missing.json()["details"]["restore_status"] == "failed"
    assert await inventory(stack) == before
