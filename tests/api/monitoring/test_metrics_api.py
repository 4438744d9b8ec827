"""Metrics of both documents against a real store: record, series, aggregate, validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, event, func, select

from api.core.state import app_sessions, app_state
from store.access.users import Role
from store.models import Device, MetricSample, utcnow
from tests.api.devices.test_edge_nodes_api import edge_error, node_token, register
from tests.api.helpers import bearer
from tests.api.inventory_helpers import add_devices

SEED_METRICS = {
    "timestamp": "2023-07-01T12:40:00Z",
    "cpu_usage": 45.5,
    "memory_usage": 3.2,
    "memory_total": 8.0,
    "disk_usage": 42.8,
    "disk_total": 100.0,
    "network": {"rx_bytes": 1024000, "tx_bytes": 512000},
    "containers": [{"name": "web-app-1", "cpu_usage": 15.2, "memory_usage": 120.5}],
}


def body_at(moment: datetime, **changes: Any) -> dict[str, Any]:
    return {**SEED_METRICS, "timestamp": moment.isoformat(), **changes}


async def test_posted_metrics_come_back_in_the_series_and_the_aggregate(
    client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    admin, viewer = tokens[Role.ADMIN], bearer(tokens[Role.VIEWER])
    node = await register(client, admin)
    other = await register(client, admin, name="edge-node-2")
    now = utcnow().replace(microsecond=0)
    for node_id, cpu in ((node["id"], 40.0), (node["id"], 50.0), (other["id"], 30.0)):
        moment = now - timedelta(seconds=2 if cpu == 40.0 else 1)
        posted = await client.post(
            f"/api/v1/metrics/nodes/{node_id}",
            json=body_at(moment, cpu_usage=cpu),
            headers=bearer(await node_token(client, admin, node_id)),
        )
        assert posted.status_code == 200, posted.text
        assert posted.json() == {
            "success": True,
            "recorded_at": moment.isoformat().replace("+00:00", "Z"),
        }
    answer = await client.get(
        f"/api/v1/metrics/nodes/{node['id']}?timeframe=1h&resolution=1m", headers=viewer
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["node_id"], body["node_name"]) == (node["id"], "edge-node-1")
    assert (body["timeframe"], body["resolution"]) == ("1h", "1m")
    values = [point["value"] for point in body["metrics"]["cpu_usage"]]
    assert sum(values) / len(values) == pytest.approx(45.0)  # one or two minute buckets
    assert body["metrics"]["memory_total"][-1]["value"] == 8.0
    assert body["metrics"]["rx_bytes"][-1]["value"] == 1024000

    fleet = await client.get("/api/v1/metrics?timeframe=1h&resolution=1h", headers=viewer)
    assert fleet.status_code == 200, fleet.text
    summary = fleet.json()
    assert summary["nodes_count"] == 2
    assert summary["aggregated"]["cpu_usage_avg"][-1]["value"] == pytest.approx(40.0)
    assert summary["nodes"][node["id"]]["name"] == "edge-node-1"
    assert summary["nodes"][node["id"]]["cpu_usage_avg"] == 45.0
    assert summary["nodes"][other["id"]]["memory_usage_avg"] == 3.2


async def test_bad_windows_bodies_and_nodes_are_answered_in_the_edge_envelope(
    client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    admin, viewer = tokens[Role.ADMIN], bearer(tokens[Role.VIEWER])
    node_id = (await register(client, admin))["id"]
    series = f"/api/v1/metrics/nodes/{node_id}"
    for query in (
        "timeframe=2h",
        "resolution=10s",
        "timeframe=1h%0A",
        "timeframe=7d&resolution=1m",
    ):
        for path in (series, "/api/v1/metrics"):
            body = edge_error(
                await client.get(f"{path}?{query}", headers=viewer), 400, "BAD_REQUEST"
            )
            assert "1h, 24h, 7d, 30d" in body["details"]["timeframe"]
            assert body["details"]["allowed"]["1m"] == ["1h", "24h"]
    edge_error(await client.get("/api/v1/metrics/nodes/nope", headers=viewer), 404, "NOT_FOUND")
    now = utcnow()
    operator = bearer(tokens[Role.OPERATOR])
    for bad in (
        {},
        {"cpu_usage": "45%"},
        {"cpu_usage": -1},
        {"cpu_usage": 1e300},
        {"cpu_usage": True},
        {"memory_usage": 1, "colour": "red"},
        {"cpu_usage": 1, "timestamp": "2023-07-01T12:40:00"},  # no zone
        body_at(now - timedelta(days=1)),  # older than samples are kept
        body_at(now + timedelta(hours=1)),  # ahead of the clock
        {"network": {}},
    ):
        answer = await client.post(series, json=bad, headers=operator)
        edge_error(answer, 400, "BAD_REQUEST")
    unknown = await client.post("/api/v1/metrics/nodes/nope", json=body_at(now), headers=operator)
    edge_error(unknown, 404, "NOT_FOUND")
    # Viewers read but do not record; a node token records for its own node only.
    edge_error(await client.post(series, json=body_at(now), headers=viewer), 403, "FORBIDDEN")
    other_id = (await register(client, admin, name="edge-node-2"))["id"]
    theirs = bearer(await node_token(client, admin, other_id))
    edge_error(await client.post(series, json=body_at(now), headers=theirs), 403, "FORBIDDEN")
    edge_error(await client.get(series, headers=theirs), 403, "FORBIDDEN")
    edge_error(await client.get("/api/v1/metrics", headers=theirs), 403, "FORBIDDEN")
    edge_error(await client.get("/api/v1/metrics"), 401, "UNAUTHORIZED")


async def test_fleet_summary_has_the_seed_shape(
    app: FastAPI, client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    await add_devices(app, 3)
    await register(client, tokens[Role.ADMIN])  # registered, never reported: offline
    answer = await client.get("/api/kubeedge/metrics", headers=bearer(tokens[Role.VIEWER]))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert datetime.fromisoformat(body["timestamp"]).tzinfo == UTC
    summary = body["summary"]
    assert (summary["total_devices"], summary["online_devices"], summary["offline_devices"]) == (
        4,
        3,
        1,
    )
    assert summary["total_detections_today"] == 0
    assert summary["average_latency"] is None
    assert summary["storage"]["store_bytes"] > 0
    assert summary["storage_used"].endswith(("KB", "MB"))
    assert body["devices_by_type"] == {"camera": 3, "unknown": 1}
    assert (await client.get("/api/kubeedge/metrics")).status_code == 401


def _reads_of_auth_tables(app: FastAPI) -> list[str]:
    """Every statement the app's engine runs that reads the token or inventory tables."""
    seen: list[str] = []

    def note(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT") and (
            "node_tokens" in statement or "devices" in statement
        ):
            seen.append(statement)

    event.listen(app_state(app).engine.sync_engine, "before_cursor_execute", note)
    return seen


async def test_a_node_posting_for_itself_reads_token_and_node_in_one_statement(
    app: FastAPI, client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    admin = tokens[Role.ADMIN]
    node_id = (await register(client, admin))["id"]
    own = bearer(await node_token(client, admin, node_id))
    series = f"/api/v1/metrics/nodes/{node_id}"
    now = utcnow().replace(microsecond=0)
    reads = _reads_of_auth_tables(app)
    posted = await client.post(series, json=body_at(now - timedelta(seconds=1)), headers=own)
    assert posted.status_code == 200, posted.text
    assert len(reads) == 1, reads
    assert "node_tokens" in reads[0]
    assert "devices" in reads[0]
    # A user is no node: the node is read for the 404 (and found here).
    operator = bearer(tokens[Role.OPERATOR])
    by_operator = await client.post(series, json=body_at(now), headers=operator)
    assert by_operator.status_code == 200, by_operator.text


async def test_revoked_and_orphaned_node_tokens_cannot_post(
    app: FastAPI, client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    admin = tokens[Role.ADMIN]
    node_id = (await register(client, admin))["id"]
    series = f"/api/v1/metrics/nodes/{node_id}"
    now = utcnow().replace(microsecond=0)
    revoked = await node_token(client, admin, node_id)
    answer = await client.post(
        "/api/v1/security/tokens/revoke", json={"token": revoked}, headers=bearer(admin)
    )
    assert answer.status_code == 200, answer.text
    refused = edge_error(
        await client.post(series, json=body_at(now), headers=bearer(revoked)), 401, "UNAUTHORIZED"
    )
    assert refused["message"] == "Node token has been revoked"

    orphaned = await node_token(client, admin, node_id)
    async with app_sessions(app)() as session, session.begin():
        await session.execute(delete(Device).where(Device.node_id == node_id))
    gone = edge_error(
        await client.post(series, json=body_at(now), headers=bearer(orphaned)), 401, "UNAUTHORIZED"
    )
    assert gone["message"] == "The node of this token no longer exists"
    async with app_sessions(app)() as session:
        stored = await session.scalar(
            select(func.count()).select_from(MetricSample).where(MetricSample.node_id == node_id)
        )
    assert stored == 0
