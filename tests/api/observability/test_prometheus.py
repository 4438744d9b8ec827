"""The API's Prometheus text and health figures, after real requests."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from api.core.state import app_sessions
from store.access.users import Role
from store.health import encode_figures, record_health
from store.models import AlertRow
from tests.api.helpers import bearer
from tests.api.inventory_helpers import add_devices

API_FAMILIES = {
    "edgewright_http_requests",
    "edgewright_http_request_duration_seconds",
    "edgewright_http_requests_in_flight",
    "edgewright_process_start_time_seconds",
    "edgewright_devices",
    "edgewright_devices_online",
    "edgewright_alerts_firing",
}


@pytest.fixture
def viewer(tokens: dict[Role, str]) -> dict[str, str]:
    return bearer(tokens[Role.VIEWER])


def families(text: str) -> dict[str, list[tuple[str, dict[str, str], float]]]:
    return {
        family.name: [(s.name, s.labels, s.value) for s in family.samples]
        for family in text_string_to_metric_families(text)
    }


async def test_prometheus_text_counts_requests_by_route_template(
    app: FastAPI, client: httpx.AsyncClient, viewer: dict[str, str]
) -> None:
    await add_devices(app, 2, prefix="cam")
    answer = await client.get("/api/kubeedge/device/cam-00001", headers=viewer)
    assert answer.status_code != 500
    missing = await client.get("/no/such/path/cam-00001", headers=viewer)
    assert missing.status_code == 404
    await client.request("BREW", "/api/kubeedge/devices", headers=viewer)

    scrape = await client.get("/api/kubeedge/metrics/prometheus", headers=viewer)

    assert scrape.status_code == 200
    assert scrape.headers["content-type"].startswith("text/plain")
    found = families(scrape.text)
    assert set(found) >= API_FAMILIES
    routes = {labels["route"] for _, labels, _ in found["edgewright_http_requests"]}
    assert "/api/kubeedge/device/{device_id}" in routes
    assert "unmatched" in routes
    methods = {labels["method"] for _, labels, _ in found["edgewright_http_requests"]}
    assert methods == {"GET", "OTHER"}
    assert not any(
        "cam-0000" in str(labels) for samples in found.values() for _, labels, _ in samples
    )
    devices = {
        (labels["status"], labels["device_type"]): value
        for _, labels, value in found["edgewright_devices"]
    }
    assert devices == {("joined", "camera"): 2.0}


async def test_metrics_need_credentials_unless_public(
    client: httpx.AsyncClient, viewer: dict[str, str]
) -> None:
    assert (await client.get("/api/kubeedge/metrics/prometheus")).status_code == 401
    assert (await client.get("/metrics")).status_code == 401
    scrape = await client.get("/metrics", headers=viewer)
    assert scrape.status_code == 200
    assert "edgewright_http_requests_total" in scrape.text


async def test_health_figures_are_real(
    app: FastAPI, client: httpx.AsyncClient, viewer: dict[str, str]
) -> None:
    async with app_sessions(app)() as session, session.begin():
        await record_health(
            session,
            name="bridge",
            status="connected",
            mode=None,
            detail=encode_figures({"status": 3, "lag_seconds": 0.25}),
        )
    for _ in range(3):
        await client.get("/api/kubeedge/devices", headers=viewer)
    await client.get("/no/such/path", headers=viewer)

    answer = await client.get("/api/kubeedge/metrics/health", headers=viewer)

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert isinstance(body["uptime_seconds"], float)
    assert body["uptime_seconds"] > 0
    requests = body["requests"]
    assert requests["requests"] >= 4
    assert requests["rate_per_second"] > 0
    assert 0 <= requests["error_rate"] <= 1
    assert isinstance(requests["latency_p95_ms"], float)
    assert requests["latency_p95_ms"] > 0
    assert body["bridge"]["lag_seconds"] == 0.25
    assert body["store"]["size_bytes"] > 0
    assert body["backups"] == {"last_good_at": None, "age_seconds": None}


async def test_firing_alerts_are_counted_by_severity_only(
    app: FastAPI, client: httpx.AsyncClient, viewer: dict[str, str]
) -> None:
    now = datetime.now(UTC)
    async with app_sessions(app)() as session, session.begin():
        for device, severity, state in (
            ("cam-1", "critical", "firing"),
            ("cam-2", "critical", "firing"),
            ("cam-3", "warning", "firing"),
            ("cam-4", "warning", "pending"),
            ("cam-5", "warning", "resolved"),
        ):
            session.add(
                AlertRow(
                    rule="cpu_high",
                    device_id=device,
                    node_name=None,
                    severity=severity,
                    state=state,
                    message="cpu 95% > 90%",
                    value=95.0,
                    pending_since=now,
                    started_at=now if state != "pending" else None,
                    resolved_at=now if state == "resolved" else None,
                    acknowledged_at=None,
                )
            )

    scrape = await client.get("/api/kubeedge/metrics/prometheus", headers=viewer)

    firing = {
        labels["severity"]: value
        for _, labels, value in families(scrape.text)["edgewright_alerts_firing"]
    }
    assert firing == {"critical": 2.0, "warning": 1.0}
