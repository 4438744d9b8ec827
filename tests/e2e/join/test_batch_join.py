"""Batch join end to end: API, dev server, sandbox over HTTP, real store and broker."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.e2e.batch_helpers import (
    batch_status,
    devices,
    live_tokens,
    our_configmaps,
    our_devices,
    start_batch,
    tokens_per_device,
    wait_done,
)
from tests.e2e.stack import Stack, running_stack, settings_env, stack_settings
from tests.support.helpers import eventually
from tests.support.mqtt_fixtures import Broker


async def test_small_batch_answers_with_the_seed_report(stack: Stack) -> None:
    auth = await stack.login()
    tag = uuid.uuid4().hex[:6]
    body = {
        "devices": [
            *devices(2, tag=tag),
            {"node_name": f"{tag}-node-0001", "device_id": f"{tag}-x"},
        ]
    }
    bad = await stack.http.post("/api/kubeedge/batch-join", json=body, headers=auth)
    assert bad.status_code == 400
    assert bad.json()["details"] == {"devices[2].node_name": "duplicate of devices[0]"}

    answer = await stack.http.post(
        "/api/kubeedge/batch-join", json={"devices": devices(3, tag=tag)}, headers=auth
    )
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["total"], report["success"], report["failed"]) == (3, 3, 0)
    assert report["results"][0] == {
        "device": f"{tag}-dev-0001",
        "status": "success",
        "details": {
            "node_name": f"{tag}-node-0001",
            "device_id": f"{tag}-dev-0001",
            "join_state": "pending",
        },
    }
    # The same request again is the same batch: nothing joins twice.
    again = await stack.http.post(
        "/api/kubeedge/batch-join", json={"devices": devices(3, tag=tag)}, headers=auth
    )
    assert again.json()["batch_id"] == report["batch_id"]
    assert set((await tokens_per_device(stack, tag)).values()) == {1}


async def test_csv_upload_with_a_failure_reported_per_device(stack: Stack) -> None:
    auth = await stack.login()
    tag = uuid.uuid4().hex[:6]
    # A device already joined through another run cannot be joined again by the batch.
    first = {
        "node_name": f"{tag}-node-0001",
        "device_id": f"{tag}-dev-0001",
        "cloud_ip": "192.0.2.10",
    }
    single = await stack.http.post("/api/kubeedge/device/join", json=first, headers=auth)
    assert single.status_code == 200, single.text
    csv_text = "node_name,device_id,location,runtime\n" + "\n".join(
        f"{d['node_name']},{d['device_id']},Hall {i},containerd"
        for i, d in enumerate(devices(3, tag=tag))
    )
    answer = await stack.http.post(
        "/api/kubeedge/batch-join",
        content=csv_text,
        headers={**auth, "Content-Type": "text/csv"},
    )
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["success"], report["failed"]) == (2, 1)
    failed = next(r for r in report["results"] if r["status"] == "failed")
    assert failed["device"] == f"{tag}-dev-0001"
    assert "already has a join run" in failed["error"]


async def test_large_batch_runs_in_the_background(stack: Stack) -> None:
    auth = await stack.login()
    tag = uuid.uuid4().hex[:6]
    batch_id = await start_batch(stack, auth, devices(60, tag=tag), window=20)
    report = await wait_done(stack, batch_id, auth)
    assert (report["status"], report["success"], report["failed"]) == ("completed", 60, 0)
    assert report["pagination"] == {"total": 60, "page": 1, "limit": 20, "pages": 3}
    assert len(await asyncio.to_thread(our_configmaps, stack.kube.api_client, tag)) == 60


@pytest.fixture
async def stack_without_worker(
    dev_env: WorkflowEnvironment, kube_sandbox_url: str, mqtt_broker: Broker, tmp_path: Path
) -> AsyncIterator[Stack]:
    settings = stack_settings(
        data_dir=tmp_path, temporal=dev_env.client, sandbox_url=kube_sandbox_url, broker=mqtt_broker
    )
    async with running_stack(settings, dev_env.client, worker=False) as running:
        yield running


def start_worker(stack: Stack) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "workers"],
        env=settings_env(stack.settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def test_worker_killed_mid_batch_joins_every_device_exactly_once(
    stack_without_worker: Stack,
) -> None:
    stack = stack_without_worker
    auth = await stack.login()
    tag = uuid.uuid4().hex[:6]
    worker = start_worker(stack)
    try:
        answer = await stack.http.post(
            "/api/kubeedge/batch-join",
            json={"devices": devices(80, tag=tag), "max_concurrency": 20},
            headers=auth,
        )
        assert answer.status_code == 202, answer.text
        batch_id = answer.json()["batch_id"]

        async def some_progress() -> bool:
            status = await batch_status(stack, batch_id, auth)
            return status is not None and 10 <= status["success"] < 80

        await eventually(some_progress, within=120)
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        worker = start_worker(stack)
        report = await wait_done(stack, batch_id, auth)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    assert (report["success"], report["failed"]) == (80, 0)
    configmaps = await asyncio.to_thread(our_configmaps, stack.kube.api_client, tag)
    assert len(configmaps) == 80
    assert set((await asyncio.to_thread(our_devices, stack.kube.api_client, tag)).values()) == {1}
    assert len(await asyncio.to_thread(our_devices, stack.kube.api_client, tag)) == 80
    tokens = await tokens_per_device(stack, tag)
    assert len(tokens) == 80
    assert set(tokens.values()) == {1}, "a device got a second token"


async def test_cancelled_batch_undoes_every_join_it_started(stack: Stack) -> None:
    auth = await stack.login()
    tag = uuid.uuid4().hex[:6]
    batch_id = await start_batch(stack, auth, devices(80, tag=tag), window=10)

    async def some_progress() -> bool:
        status = await batch_status(stack, batch_id, auth)
        return status is not None and status["success"] >= 10

    await eventually(some_progress, within=120)
    cancel = await stack.http.post(f"/api/kubeedge/batch-join/{batch_id}/cancel", headers=auth)
    assert cancel.status_code in (200, 202), cancel.text
    report = await wait_done(stack, batch_id, auth)
    assert report["status"] == "cancelled"
    assert report["success"] < 80  # it stopped starting joins

    # Every join it started, provisioned or not, undoes itself: nothing of the batch stays.
    async def nothing_left() -> bool:
        configmaps = await asyncio.to_thread(our_configmaps, stack.kube.api_client, tag)
        device_crs = await asyncio.to_thread(our_devices, stack.kube.api_client, tag)
        return not configmaps and not device_crs and await live_tokens(stack, tag) == 0

    await eventually(nothing_left, within=120)
    assert (await tokens_per_device(stack, tag)).total() >= 10  # joins ran, then were undone
