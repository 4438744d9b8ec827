"""CloudCore apps: the seed's deploy and list, per-device service ports, validation in the
CloudCore envelope, and slow or failed rollouts (stand-in workflows on the dev server)."""

from __future__ import annotations

from typing import Any

import httpx

from store.access.users import Role
from tests.api.helpers import bearer
from tests.api.inventory_helpers import add_devices
from tests.api.workload_fixtures import LiveApi, live

__all__ = ["live"]  # the fixture, used by name below

SEED_APP: dict[str, Any] = {
    "name": "object-detection",
    "image": "ahmedxeno/edge-app:latest",
    "device_ids": ["dev-00000", "dev-00001"],
    "config": {"model": "yolov5", "confidence": 0.7, "interval": 5},
    "resources": {"cpu": "500m", "memory": "512Mi"},
}


def cloudcore_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert (body["status"], body["code"]) == ("error", code)
    return body


async def deploy(live: LiveApi, token: str, **overrides: Any) -> httpx.Response:
    return await live.http.post(
        "/api/kubeedge/apps/deploy", json={**SEED_APP, **overrides}, headers=bearer(token)
    )


async def test_seed_deploy_list_and_stable_ports(live: LiveApi, tokens: dict[Role, str]) -> None:
    await add_devices(live.app, 3)
    operator, viewer = tokens[Role.OPERATOR], bearer(tokens[Role.VIEWER])
    answer = await deploy(live, operator)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["status"], body["deployment_name"], body["devices_deployed"]) == (
        "success",
        "object-detection",
        2,
    )
    assert body["services_created"] == [
        {"device_id": "dev-00000", "port": 5001, "url": "http://dev-00000:5001"},
        {"device_id": "dev-00001", "port": 5001, "url": "http://dev-00001:5001"},
    ]
    assert body["workflow_id"] == f"rollout/{body['app_id']}/1"

    # The same body again is the same deployment.
    again = await deploy(live, operator)
    assert (again.status_code, again.json()["deployment_id"]) == (200, body["deployment_id"])

    listing = (await live.http.get("/api/kubeedge/apps", headers=viewer)).json()
    assert listing["count"] == 1
    assert listing["pagination"] == {
        "total": 1, "page": 1, "limit": 10_000, "pages": 1, "truncated": False, "next": None
    }  # fmt: skip
    app = listing["apps"][0]
    assert (app["name"], app["status"], app["devices_deployed"]) == (
        "object-detection",
        "running",
        2,
    )
    assert app["devices"] == ["dev-00000", "dev-00001"]
    assert [(s["device_id"], s["port"], s["state"]) for s in app["services"]] == [
        ("dev-00000", 5001, "ready"),
        ("dev-00001", 5001, "ready"),
    ]

    # One model: the app is a workload of the Edge API too, config as environment.
    workload = (await live.http.get(f"/api/v1/workloads/{body['app_id']}", headers=viewer)).json()
    assert workload["source"] == "apps"
    assert workload["env"] == {"MODEL": "yolov5", "CONFIDENCE": "0.7", "INTERVAL": "5"}
    assert workload["resources"] == {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {}}

    # A second app on a device gets the next port; a device added keeps the others' ports.
    second = await deploy(live, operator, name="telemetry", device_ids=["dev-00001"])
    assert second.json()["services_created"][0]["port"] == 5002
    grown = await deploy(live, operator, device_ids=["dev-00000", "dev-00001", "dev-00002"])
    assert grown.json()["revision"] == 2
    assert [s["port"] for s in grown.json()["services_created"]] == [5001, 5001, 5001]
    listing = (await live.http.get("/api/kubeedge/apps?limit=1&page=2", headers=viewer)).json()
    assert (listing["count"], listing["pagination"]["total"]) == (1, 2)  # this page; all
    assert [a["name"] for a in listing["apps"]] == ["telemetry"]


async def test_validation_roles_and_conflicts(live: LiveApi, tokens: dict[Role, str]) -> None:
    await add_devices(live.app, 2)
    operator = tokens[Role.OPERATOR]
    unknown = await deploy(live, operator, device_ids=["dev-00000", "ghost-a", "ghost-b"])
    details = cloudcore_error(unknown, 400, "API-001")["details"]
    assert details["unknown_devices"] == ["ghost-a", "ghost-b"]
    for overrides, field in (
        ({"image": "bad image!"}, "image"),
        ({"device_ids": []}, "device_ids"),
        ({"resources": {"cpu": "half"}}, "resources.cpu"),
        ({"resources": {"gpu": "1"}}, "resources.gpu"),
        ({"name": "Object_Detection"}, "name"),
        ({"port": 70000}, "port"),
        ({"strategy": "yolo"}, "strategy"),
        ({"config": {"bad key": 1}}, "config"),
    ):
        answer = await deploy(live, operator, **overrides)
        details = cloudcore_error(answer, 400, "API-001")["details"]
        assert any(key.startswith(field) for key in details), (field, details)
    clash = await deploy(live, operator, config={"a-b": 1, "a_b": 2})
    cloudcore_error(clash, 400, "API-001")
    viewer = await deploy(live, tokens[Role.VIEWER])
    cloudcore_error(viewer, 403, "API-003")
    anonymous = await live.http.post("/api/kubeedge/apps/deploy", json=SEED_APP)
    cloudcore_error(anonymous, 401, "API-002")
    cloudcore_error(await live.http.get("/api/kubeedge/apps"), 401, "API-002")
    listing = await live.http.get("/api/kubeedge/apps", headers=bearer(operator))
    assert listing.json()["count"] == 0  # nothing above wrote a thing

    # A name taken by an Edge API workload is not an app to update.
    created = await live.http.post(
        "/api/v1/workloads",
        json={"name": "object-detection", "image": "nginx:1.27"},
        headers=bearer(operator),
    )
    assert created.status_code == 201
    cloudcore_error(await deploy(live, operator), 409, "API-005")


async def test_slow_and_failed_rollouts(live: LiveApi, tokens: dict[Role, str]) -> None:
    await add_devices(live.app, 2)
    operator = tokens[Role.OPERATOR]
    slow = await deploy(live, operator, image="edge-app:hold", wait=False)
    assert slow.status_code == 202, slow.text
    body = slow.json()
    assert (body["status"], body["state"]) == ("accepted", "pending")
    assert body["temporal_ui_url"].endswith(f"rollout%2F{body['app_id']}%2F1")
    follow = await live.http.get(body["status_url"], headers=bearer(operator))
    assert follow.status_code == 200
    await live.http.post(f"{body['status_url']}/abort", headers=bearer(operator))

    failed = await deploy(live, operator, name="broken", image="edge-app:fail")
    details = cloudcore_error(failed, 502, "API-008")["details"]
    assert details["state"] == "rolled_back"
    assert set(details["failures"]) == {"node-dev-00000", "node-dev-00001"}
    listing = (await live.http.get("/api/kubeedge/apps", headers=bearer(operator))).json()
    statuses = {app["name"]: app["status"] for app in listing["apps"]}
    assert statuses["broken"] == "rolled_back"
