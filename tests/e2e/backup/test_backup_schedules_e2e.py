"""Scheduled backups on the dev server (the time-skipping server has no Schedules): the
worker's bootstrap, a schedule firing, retention pruning, and the schedule API."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from adapters.storage.locations import StoreFactory, archive_name
from store.models import BackupRow
from tests.e2e.stack import Stack, running_stack, stack_settings
from tests.support.helpers import eventually
from tests.support.mqtt_fixtures import Broker
from tests.support.storage_fixtures import Target
from workers.schedules import ensure_backup_schedule
from workflows.contracts.backup import backup_schedule_temporal_id

pytestmark = pytest.mark.parametrize("backup_target", ["s3"], indirect=True)


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
            "backup_schedule_id": f"t-{tag}",
            "backup_schedule_interval_seconds": 1,
            # A floor of one second, so the test sees the schedule fire and prune.
            "backup_schedule_min_interval_seconds": 1,
            "backup_keep_last": 2,
            "backup_keep_days": 0,
        }
    )
    async with running_stack(settings, dev_env.client) as running:
        try:
            yield running
        finally:  # the dev server outlives this test; its schedule must not
            handle = dev_env.client.get_schedule_handle(
                backup_schedule_temporal_id(settings.backup_schedule_id)
            )
            with contextlib.suppress(Exception):
                await handle.delete()


async def scheduled(stack: Stack) -> dict[str, list[str]]:
    async with stack.sessions() as session:
        rows = (await session.scalars(select(BackupRow).where(BackupRow.kind == "scheduled"))).all()
    found: dict[str, list[str]] = {}
    for row in rows:
        found.setdefault(row.status, []).append(row.backup_id)
    return found


async def test_schedule_fires_and_retention_prunes(stack: Stack) -> None:
    settings, auth = stack.settings, await stack.login()
    schedule_id = settings.backup_schedule_id
    assert await ensure_backup_schedule(stack.temporal, settings=settings) == "created"
    # Idempotent: every worker start (and every replica) calls it again.
    assert await ensure_backup_schedule(stack.temporal, settings=settings) == "unchanged"

    async def pruned_some() -> bool:
        return len((await scheduled(stack)).get("pruned", [])) >= 1

    await eventually(pruned_some, within=90)

    base = f"/api/kubeedge/backup/schedules/{schedule_id}"
    paused = await stack.http.post(f"{base}/pause", json={"note": "test"}, headers=auth)
    assert paused.status_code == 200, paused.text
    assert paused.json()["paused"] is True

    async def idle() -> bool:
        view = (await stack.http.get(base, headers=auth)).json()
        statuses = await scheduled(stack)
        return not view["running"] and not statuses.get("running")

    await eventually(idle, within=60)
    statuses = await scheduled(stack)
    assert len(statuses["completed"]) == 2  # keep_last=2
    store = StoreFactory(settings=settings).get()
    for backup_id in statuses["completed"]:
        assert store.head(name=archive_name(backup_id)) is not None
    for backup_id in statuses["pruned"]:
        assert store.head(name=archive_name(backup_id)) is None

    listed = (await stack.http.get("/api/kubeedge/backup/schedules", headers=auth)).json()
    mine = next(item for item in listed["schedules"] if item["id"] == schedule_id)
    assert mine["schedule"]["interval_seconds"] == 1
    assert mine["schedule"]["retention"] == {"keep_last": 2, "keep_days": 0.0}
    assert mine["paused"] is True
    assert mine["recent_runs"]
    assert mine["recent_runs"][0]["workflow_id"].startswith(f"backup/scheduled-{schedule_id}-")

    runs_before = len(mine["recent_runs"])
    triggered = await stack.http.post(f"{base}/trigger", headers=auth)
    assert triggered.status_code == 202, triggered.text

    async def ran_again() -> bool:
        view = (await stack.http.get(base, headers=auth)).json()
        return len(view["recent_runs"]) > runs_before or bool(view["running"])

    await eventually(ran_again, within=30)

    body = {"cron": "0 3 * * *", "retention": {"keep_last": 7}, "include": ["devices"]}
    put = await stack.http.put(base, json=body, headers=auth)
    assert put.status_code == 200, put.text
    assert put.json()["schedule"]["cron"] == "0 3 * * *"
    assert put.json()["schedule"]["include"] == ["devices"]
    # A restart keeps the operator's change: the configuration itself did not change.
    assert await ensure_backup_schedule(stack.temporal, settings=settings) == "unchanged"
    assert (await stack.http.get(base, headers=auth)).json()["schedule"]["cron"] == "0 3 * * *"
    # A changed configuration is the newer intent and wins.
    changed = settings.model_copy(update={"backup_schedule_interval_seconds": 3600})
    assert await ensure_backup_schedule(stack.temporal, settings=changed) == "updated"
    view = (await stack.http.get(base, headers=auth)).json()
    assert view["schedule"]["interval_seconds"] == 3600
    assert view["paused"] is False
    disabled = changed.model_copy(update={"backup_schedule_enabled": False})
    assert await ensure_backup_schedule(stack.temporal, settings=disabled) == "paused"
    assert await ensure_backup_schedule(stack.temporal, settings=changed) == "resumed"


async def test_schedule_api_answers_404_and_400(stack: Stack) -> None:
    auth = await stack.login()
    missing = await stack.http.post("/api/kubeedge/backup/schedules/nope/pause", headers=auth)
    assert missing.status_code == 404
    assert missing.json()["code"] == "API-004"
    both = {"cron": "0 3 * * *", "interval_seconds": 60}
    bad = await stack.http.put("/api/kubeedge/backup/schedules/x", json=both, headers=auth)
    assert bad.status_code == 400
    keeps_all = {"interval_seconds": 3600}
    bad = await stack.http.put("/api/kubeedge/backup/schedules/x", json=keeps_all, headers=auth)
    assert bad.status_code == 400
    assert "retention" in bad.json()["details"]
    created = await stack.http.put(
        "/api/kubeedge/backup/schedules/hourly-t",
        json={"interval_seconds": 3600, "retention": {"keep_last": 3}, "paused": True},
        headers=auth,
    )
    try:
        assert created.status_code == 201, created.text
        assert created.json()["paused"] is True
    finally:
        handle = stack.temporal.get_schedule_handle(backup_schedule_temporal_id("hourly-t"))
        await handle.delete()
