"""End to end: a simulated device's heartbeats, detections and commands show in its
status, its metric series and the fleet's figures (bridge, store and API for real)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from store.models import utcnow
from tests.e2e.command_stack import CommandStack, command_settings, running_command_stack
from tests.support.helpers import eventually
from tests.support.mqtt_fixtures import Broker


@pytest.fixture
async def stack(
    dev_env: WorkflowEnvironment, kube_sandbox_url: str, mqtt_broker: Broker, tmp_path: Path
) -> AsyncIterator[CommandStack]:
    settings = command_settings(
        data_dir=tmp_path, temporal=dev_env.client, sandbox_url=kube_sandbox_url, broker=mqtt_broker
    )
    async with running_command_stack(settings, dev_env.client) as running:
        yield running


async def get(stack: CommandStack, path: str) -> dict[str, Any]:
    answer = await stack.http.get(path, headers=stack.auth)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_heartbeats_show_in_device_status_series_and_fleet(
    stack: CommandStack, mqtt_broker: Broker
) -> None:
    fleet = await stack.devices(1, mqtt=mqtt_broker)
    try:
        device_id = next(iter(fleet.devices))
        started = utcnow()
        fleet.device(device_id).detect(obj="person", confidence=0.9)
        fleet.device(device_id).detect(obj="car", confidence=0.8)
        command = await stack.http.post(
            f"/api/kubeedge/device/{device_id}/command?wait=true",
            json={"command": "get_status"},
            headers=stack.auth,
        )
        assert command.status_code == 200, command.text

        async def reported() -> dict[str, Any] | None:
            body = await get(stack, f"/api/kubeedge/device/{device_id}")
            status = body["device_status"]
            heard = status["last_heartbeat"]
            fresh = heard is not None and datetime.fromisoformat(heard) >= started
            counted = body["metrics"]["total_detections"] == 2
            # From the command's row, which its run may write after answering the POST.
            timed = body["metrics"]["average_latency"] is not None
            return body if fresh and counted and timed else None

        detail = await eventually(reported)
        status = detail["device_status"]
        assert status["online"] is True
        assert status["cpu_usage"].endswith("%")
        assert status["memory_usage"].endswith("GB")
        assert status["temperature"].endswith("°C")
        assert status["apps"] == []
        assert detail["metrics"]["average_latency"].endswith("ms")

        node = await get(stack, f"/api/v1/nodes/{detail['node_id']}")
        assert node["online"] is True
        assert datetime.fromisoformat(node["last_heartbeat"]) >= started
        assert node["usage"]["cpu"].endswith("%")

        series = await get(
            stack, f"/api/v1/metrics/nodes/{detail['node_id']}?timeframe=1h&resolution=1m"
        )
        cpu = series["metrics"]["cpu_usage"]
        assert cpu
        assert all(0 <= point["value"] <= 100 for point in cpu)
        assert datetime.fromisoformat(cpu[-1]["timestamp"]) >= started - timedelta(minutes=1)
        assert series["metrics"]["temperature"]

        summary = (await get(stack, "/api/kubeedge/metrics"))["summary"]
        assert summary["online_devices"] == summary["total_devices"] == 1
        assert summary["total_detections_today"] == 2
        assert summary["average_latency"].endswith("ms")
    finally:
        await fleet.stop()
