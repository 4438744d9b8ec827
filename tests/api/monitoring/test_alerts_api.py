"""Alert rules and alerts over HTTP: seed-like shapes, validation, roles, acknowledgement."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import FastAPI

from api.core.state import app_sessions
from store.access.users import Role
from store.models import AlertRow, utcnow
from tests.api.helpers import bearer

HOT = {"metric": "cpu_usage", "op": ">", "threshold": 95, "for_seconds": 0, "severity": "critical"}


async def test_rules_are_listed_and_replaced_and_validated(
    client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    viewer, operator = bearer(tokens[Role.VIEWER]), bearer(tokens[Role.OPERATOR])
    listed = await client.get("/api/kubeedge/alerts/rules", headers=viewer)
    assert listed.status_code == 200, listed.text
    names = {rule["name"]: rule for rule in listed.json()["rules"]}
    assert set(names) == {
        "high_cpu",
        "high_memory",
        "high_disk",
        "high_temperature",
        "device_offline",
    }
    assert (names["high_cpu"]["threshold"], names["high_cpu"]["for_seconds"]) == (90, 300)
    put = await client.put("/api/kubeedge/alerts/rules/high_cpu", json=HOT, headers=operator)
    assert put.status_code == 200, put.text
    assert put.json() | {"updated_at": None} == {
        **HOT,
        "name": "high_cpu",
        "enabled": True,
        "updated_at": None,
    }
    for bad in (
        {**HOT, "metric": "humidity"},
        {**HOT, "op": "=~"},
        {**HOT, "for_seconds": -1},
        {**HOT, "threshold": "hot"},
        {**HOT, "severity": "dire"},
        {**HOT, "colour": "red"},
    ):
        answer = await client.put("/api/kubeedge/alerts/rules/high_cpu", json=bad, headers=operator)
        assert answer.status_code == 400, answer.text
        assert answer.json()["status"] == "error"
    for bad_name in ("High", "a-b", "x" * 64):
        answer = await client.put(
            f"/api/kubeedge/alerts/rules/{bad_name}", json=HOT, headers=operator
        )
        assert answer.status_code == 400, answer.text
    viewer_put = await client.put("/api/kubeedge/alerts/rules/x", json=HOT, headers=viewer)
    assert viewer_put.status_code == 403


async def test_alerts_are_filtered_paged_and_acknowledged(
    app: FastAPI, client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    now = utcnow()
    async with app_sessions(app)() as session, session.begin():
        for index, state in enumerate(("firing", "resolved", "firing", "pending")):
            session.add(
                AlertRow(
                    rule="high_cpu",
                    device_id=f"d{index}",
                    node_name=f"n{index}",
                    severity="warning",
                    state=state,
                    message="cpu_usage 97 > 90 for 300 s",
                    value=97.0,
                    pending_since=now - timedelta(minutes=5),
                    started_at=None if state == "pending" else now,
                    resolved_at=now if state == "resolved" else None,
                )
            )
    viewer, operator = bearer(tokens[Role.VIEWER]), bearer(tokens[Role.OPERATOR])
    every = (await client.get("/api/kubeedge/alerts", headers=viewer)).json()
    assert every["count"] == 3  # a pending alert is not an alert yet
    assert set(every["alerts"][0]) == {
        "id",
        "rule",
        "type",
        "severity",
        "state",
        "device_id",
        "node_name",
        "message",
        "value",
        "started_at",
        "resolved_at",
        "acknowledged_at",
    }
    firing = await client.get("/api/kubeedge/alerts?state=firing&limit=1&page=2", headers=viewer)
    body = firing.json()
    assert (body["count"], [a["device_id"] for a in body["alerts"]]) == (2, ["d0"])
    assert body["pagination"] == {"total": 2, "page": 2, "limit": 1, "pages": 2}
    by_device = await client.get("/api/kubeedge/alerts?device_id=d1", headers=viewer)
    assert [a["state"] for a in by_device.json()["alerts"]] == ["resolved"]
    assert (
        await client.get("/api/kubeedge/alerts?state=pending", headers=viewer)
    ).status_code == 400

    alert_id = body["alerts"][0]["id"]
    acked = await client.post(f"/api/kubeedge/alerts/{alert_id}/acknowledge", headers=operator)
    assert acked.status_code == 200, acked.text
    assert acked.json()["acknowledged_at"] is not None
    again = await client.post(f"/api/kubeedge/alerts/{alert_id}/acknowledge", headers=operator)
    assert again.json()["acknowledged_at"] == acked.json()["acknowledged_at"]
    for missing in (999_999, 4):  # unknown, and the pending one
        answer = await client.post(f"/api/kubeedge/alerts/{missing}/acknowledge", headers=operator)
        assert answer.status_code == 404, answer.text
    assert (
        await client.post("/api/kubeedge/alerts/0/acknowledge", headers=operator)
    ).status_code == 400
    viewer_ack = await client.post(f"/api/kubeedge/alerts/{alert_id}/acknowledge", headers=viewer)
    assert viewer_ack.status_code == 403

    summary = (await client.get("/api/kubeedge/metrics", headers=viewer)).json()
    assert [(a["device_id"], a["type"]) for a in summary["alerts"]] == [
        ("d2", "high_cpu"),
        ("d0", "high_cpu"),
    ]
