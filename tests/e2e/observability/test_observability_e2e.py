"""A join through the API against the dev server, then what operators see of it: every
process's Prometheus text (parsed with prometheus_client), the dashboard's queries
against those families, and the run's summary in the Temporal UI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import MetricBuffer
from temporalio.testing import WorkflowEnvironment

from adapters.prometheus.temporal import buffered_runtime
from tests.e2e.stack import Stack, running_stack, stack_settings
from tests.support.helpers import eventually
from tests.support.kube_fixtures import make_node_ready
from tests.support.mqtt_fixtures import Broker
from tests.support.promql import dashboard_metric_names, exposed_names
from workers.bridge.service import running_bridge
from workers.observability import serving_worker_metrics
from workers.processes import free_port
from workflows.contracts.join import JoinProgress

BODY = {
    "node_name": "edge-node-metrics",
    "device_id": "camera-metrics",
    "cloud_ip": "3.70.53.21",
    "device_type": "camera",
}


@pytest.fixture
async def buffered(dev_env: WorkflowEnvironment) -> tuple[Client, MetricBuffer]:
    runtime, buffer = buffered_runtime()
    client = await Client.connect(
        dev_env.client.service_client.config.target_host,
        namespace=dev_env.client.namespace,
        data_converter=pydantic_data_converter,
        runtime=runtime,
    )
    return client, buffer


@pytest.fixture
async def metered_stack(
    buffered: tuple[Client, MetricBuffer],
    kube_sandbox_url: str,
    mqtt_broker: Broker,
    tmp_path: Path,
) -> AsyncIterator[Stack]:
    client, _ = buffered
    settings = stack_settings(
        data_dir=tmp_path, temporal=client, sandbox_url=kube_sandbox_url, broker=mqtt_broker
    )
    async with running_stack(settings, client) as running:
        yield running


def families(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    return {
        family.name: [(sample.labels, sample.value) for sample in family.samples]
        for family in text_string_to_metric_families(text)
    }


async def test_a_join_shows_in_metrics_dashboard_and_ui(
    metered_stack: Stack, buffered: tuple[Client, MetricBuffer]
) -> None:
    stack = metered_stack
    client, buffer = buffered
    auth = await stack.login()
    answer = await stack.http.post("/api/kubeedge/device/join", json=BODY, headers=auth)
    assert answer.status_code == 200, answer.text
    await asyncio.to_thread(make_node_ready, stack.kube.api_client, BODY["node_name"])
    handle = client.get_workflow_handle("device-join/camera-metrics", result_type=JoinProgress)
    assert (await asyncio.wait_for(handle.result(), 120)).status.value == "joined"

    # The Temporal UI lists the run by its summary.
    description = await handle.describe()
    assert await description.static_summary() == "Join camera-metrics on edge-node-metrics"

    # The worker: runs and joins by outcome, and the SDK's own metrics, on its listener.
    settings = stack.settings.model_copy(update={"worker_metrics_port": free_port()})
    async with serving_worker_metrics(buffer, settings=settings), httpx.AsyncClient() as http:
        url = f"http://{settings.metrics_host}:{settings.worker_metrics_port}/metrics"

        async def joined() -> str | None:
            text = (await http.get(url)).text
            joins = families(text).get("edgewright_joins", [])
            return text if any(labels.get("outcome") == "joined" for labels, _ in joins) else None

        worker_text = await eventually(joined, within=30)
    worker = families(worker_text)
    started = {labels["workflow_type"] for labels, _ in worker["edgewright_workflow_runs_started"]}
    assert "DeviceJoinWorkflow" in started
    assert any(name.startswith("temporal_") for name in worker)
    assert not any("camera-metrics" in str(samples) for samples in worker.values())

    # The API: the join counted under its route template.
    scrape = await stack.http.get("/api/kubeedge/metrics/prometheus", headers=auth)
    assert scrape.status_code == 200
    api = families(scrape.text)
    routes = {labels["route"] for labels, _ in api["edgewright_http_requests"]}
    assert "/api/kubeedge/device/join" in routes

    # The bridge: its own registry, while it runs.
    async with running_bridge(
        settings=stack.settings, temporal=client, sessions=stack.sessions
    ) as bridge:
        bridge_text = generate_latest(bridge.metrics.registry).decode()
    assert {"edgewright_bridge_messages", "edgewright_bridge_lag_seconds"} <= set(
        families(bridge_text)
    )

    # A long run keeps its current details up to date; a child join has its summary too.
    batch = {
        "batch_id": "metrics-batch",
        "devices": [
            {"node_name": f"metrics-node-{i}", "device_id": f"metrics-dev-{i}"} for i in (1, 2)
        ],
    }
    answer = await stack.http.post("/api/kubeedge/batch-join", json=batch, headers=auth)
    assert answer.status_code in (200, 202), answer.text
    batch_run = client.get_workflow_handle("batch-join/metrics-batch")
    await asyncio.wait_for(batch_run.result(), 120)
    assert (
        await (await batch_run.describe()).static_summary() == "Batch join metrics-batch: 2 devices"
    )
    metadata = await batch_run.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    assert metadata.current_details == "completed: 2/2 done, 0 failed, 0 in flight"
    child = await client.get_workflow_handle("device-join/metrics-dev-1").describe()
    assert await child.static_summary() == "Join metrics-dev-1 on metrics-node-1"

    # Every name the dashboard asks for is one these processes export.
    missing = dashboard_metric_names() - exposed_names([worker_text, scrape.text, bridge_text])
    assert not missing, f"the dashboard asks for metrics no process exports: {sorted(missing)}"
