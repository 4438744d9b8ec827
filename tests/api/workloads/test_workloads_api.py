"""Edge API workloads: the seed's examples, validation, roles, pagination, and the rollout
runs (deploy, update mid-rollout, steering, delete) against the Temporal dev server with
stand-in workflows registered under the real names (tests/api/stub_workloads.py)."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.core.state import app_sessions
from store import workloads
from store.access.users import Role
from tests.api.devices.test_edge_nodes_api import edge_error, node_token, register
from tests.api.helpers import ApiUser, bearer
from tests.api.workload_fixtures import LiveApi, live
from tests.support.helpers import eventually
from workflows.contracts.workloads import RolloutStrategy

__all__ = ["live"]  # the fixture, used by name below

SEED_WORKLOAD: dict[str, Any] = {
    "name": "web-app",
    "namespace": "default",
    "type": "deployment",
    "image": "nginx:latest",
    "replicas": 3,
    "resources": {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"cpu": "200m", "memory": "256Mi"},
    },
    "placement": {
        "strategy": "edge-first",
        "constraints": [{"key": "location", "operator": "In", "values": ["datacenter-1"]}],
    },
}
SEED_UPDATE = {
    "replicas": 5,
    "resources": {
        "requests": {"cpu": "200m", "memory": "256Mi"},
        "limits": {"cpu": "400m", "memory": "512Mi"},
    },
}


async def create(http: httpx.AsyncClient, token: str, **overrides: Any) -> dict[str, Any]:
    answer = await http.post(
        "/api/v1/workloads", json={**SEED_WORKLOAD, **overrides}, headers=bearer(token)
    )
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def workload_count(http: httpx.AsyncClient, token: str) -> int:
    listing = await http.get("/api/v1/workloads", headers=bearer(token))
    return int(listing.json()["pagination"]["total"])


# --- against the store only (Temporal unreachable) -----------------------------------------


async def test_seed_create_list_get_and_update(
    client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    operator, viewer = tokens[Role.OPERATOR], bearer(tokens[Role.VIEWER])
    created = await create(client, operator)
    assert set(created) >= {"id", "name", "namespace", "status", "created_at"}
    assert (created["name"], created["namespace"], created["status"]) == (
        "web-app",
        "default",
        "created",
    )
    assert created["revision"] == 1
    workload_id = created["id"]

    listing = (await client.get("/api/v1/workloads", headers=viewer)).json()
    assert listing["pagination"] == {"total": 1, "page": 1, "limit": 20, "pages": 1}
    item = listing["workloads"][0]
    assert {k: item[k] for k in ("id", "name", "namespace", "type", "status")} == {
        "id": workload_id,
        "name": "web-app",
        "namespace": "default",
        "type": "deployment",
        "status": "created",
    }

    detail = (await client.get(f"/api/v1/workloads/{workload_id}", headers=viewer)).json()
    for key in ("image", "replicas", "resources", "placement"):
        assert detail[key] == SEED_WORKLOAD[key]
    assert detail["nodes"] == []
    assert detail["rollout"] is None
    assert detail["created_at"] == created["created_at"]

    # Never deployed: a new revision, and nothing to roll out, so no Temporal is needed.
    updated = await client.put(
        f"/api/v1/workloads/{workload_id}", json=SEED_UPDATE, headers=bearer(operator)
    )
    assert updated.status_code == 200, updated.text
    body = updated.json()
    assert set(body) >= {"id", "name", "status", "updated_at"}
    assert (body["revision"], body["status"], body["changed"], body["deployment_id"]) == (
        2,
        "created",
        True,
        None,
    )
    again = await client.put(
        f"/api/v1/workloads/{workload_id}", json=SEED_UPDATE, headers=bearer(operator)
    )
    assert (again.json()["revision"], again.json()["changed"]) == (2, False)
    detail = (await client.get(f"/api/v1/workloads/{workload_id}", headers=viewer)).json()
    assert detail["replicas"] == 5
    assert detail["resources"] == SEED_UPDATE["resources"]
    assert detail["placement"] == SEED_WORKLOAD["placement"]


async def test_pagination(client: httpx.AsyncClient, tokens: dict[Role, str]) -> None:
    for index in range(3):
        await create(client, tokens[Role.OPERATOR], name=f"app-{index}")
    viewer = bearer(tokens[Role.VIEWER])
    page = (await client.get("/api/v1/workloads?page=2&limit=2", headers=viewer)).json()
    assert [w["name"] for w in page["workloads"]] == ["app-2"]
    assert page["pagination"] == {"total": 3, "page": 2, "limit": 2, "pages": 2}
    for query in ("limit=101", "limit=0", "page=0"):
        answer = await client.get(f"/api/v1/workloads?{query}", headers=viewer)
        edge_error(answer, 400, "BAD_REQUEST")


def _with(path: str, value: Any) -> dict[str, Any]:
    body = copy.deepcopy(SEED_WORKLOAD)
    *parents, last = path.split(".")
    target: Any = body
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    target[int(last) if last.isdigit() else last] = value
    return body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_with("placement.constraints.0.operator", "Near"), "placement.constraints[0].operator"),
        (_with("placement.constraints.0.values", []), "placement.constraints[0]"),
        (
            _with("placement.constraints.0", {"key": "gpu", "operator": "Exists", "values": ["x"]}),
            "placement.constraints[0]",
        ),
        (_with("placement.constraints.0.key", "bad key!"), "placement.constraints[0].key"),
        (_with("placement.strategy", "cloud-only"), "placement.strategy"),
        (_with("image", "nginx latest; rm -rf /"), "image"),
        (_with("resources.requests.cpu", "lots"), "resources.requests.cpu"),
        (_with("resources.limits.memory", "256MB"), "resources.limits.memory"),
        (_with("replicas", -1), "replicas"),
        (_with("type", "daemonset"), "type"),
        (_with("name", "Web_App"), "name"),
        ({**SEED_WORKLOAD, "surprise": True}, "surprise"),
    ],
)
async def test_invalid_workloads_are_400_and_write_nothing(
    client: httpx.AsyncClient, tokens: dict[Role, str], body: dict[str, Any], field: str
) -> None:
    answer = await client.post(
        "/api/v1/workloads", json=body, headers=bearer(tokens[Role.OPERATOR])
    )
    details = edge_error(answer, 400, "BAD_REQUEST")["details"]
    assert any(key.startswith(field) for key in details), details
    assert await workload_count(client, tokens[Role.VIEWER]) == 0


async def test_conflicts_and_immutable_fields(
    client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    operator = bearer(tokens[Role.OPERATOR])
    workload_id = (await create(client, tokens[Role.OPERATOR]))["id"]
    edge_error(
        await client.post("/api/v1/workloads", json=SEED_WORKLOAD, headers=operator),
        409,
        "CONFLICT",
    )
    other_namespace = await client.post(
        "/api/v1/workloads", json={**SEED_WORKLOAD, "namespace": "data"}, headers=operator
    )
    assert other_namespace.status_code == 201
    renamed = await client.put(
        f"/api/v1/workloads/{workload_id}", json={"name": "other"}, headers=operator
    )
    assert "name" in edge_error(renamed, 400, "BAD_REQUEST")["details"]
    bad = await client.put(
        f"/api/v1/workloads/{workload_id}",
        json={"placement": {"constraints": [{"key": "zone", "operator": "In"}]}},
        headers=operator,
    )
    edge_error(bad, 400, "BAD_REQUEST")
    detail = (await client.get(f"/api/v1/workloads/{workload_id}", headers=operator)).json()
    assert detail["revision"] == 1
    for method in ("GET", "PUT", "DELETE"):
        missing = await client.request(
            method, "/api/v1/workloads/nope", json=SEED_UPDATE if method == "PUT" else None,
            headers=operator,
        )  # fmt: skip
        if method != "DELETE":  # DELETE needs Temporal first: 503 here
            edge_error(missing, 404, "NOT_FOUND")


async def test_roles_and_credentials(
    client: httpx.AsyncClient, tokens: dict[Role, str], users: dict[Role, ApiUser]
) -> None:
    viewer = bearer(tokens[Role.VIEWER])
    edge_error(
        await client.post("/api/v1/workloads", json=SEED_WORKLOAD, headers=viewer), 403, "FORBIDDEN"
    )
    edge_error(await client.get("/api/v1/workloads"), 401, "UNAUTHORIZED")
    workload_id = (await create(client, tokens[Role.OPERATOR]))["id"]
    for method, path, body in (
        ("PUT", f"/api/v1/workloads/{workload_id}", SEED_UPDATE),
        ("POST", f"/api/v1/workloads/{workload_id}/deploy", {"nodes": []}),
        ("DELETE", f"/api/v1/workloads/{workload_id}", None),
        ("POST", f"/api/v1/workloads/{workload_id}/rollouts/x/pause", None),
    ):
        answer = await client.request(method, path, json=body, headers=viewer)
        edge_error(answer, 403, "FORBIDDEN")
        edge_error(await client.request(method, path, json=body), 401, "UNAUTHORIZED")
    # A node's own security token is not a user: refused everywhere here.
    node_id = (await register(client, tokens[Role.ADMIN]))["id"]
    own = bearer(await node_token(client, tokens[Role.ADMIN], node_id))
    edge_error(await client.get("/api/v1/workloads", headers=own), 401, "UNAUTHORIZED")
    edge_error(
        await client.post(f"/api/v1/workloads/{workload_id}/deploy", json={}, headers=own),
        401,
        "UNAUTHORIZED",
    )


async def test_deploy_without_temporal_is_503_and_writes_nothing(
    app: FastAPI, client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    operator = bearer(tokens[Role.OPERATOR])
    workload_id = (await create(client, tokens[Role.OPERATOR]))["id"]
    answer = await client.post(
        f"/api/v1/workloads/{workload_id}/deploy", json={"strategy": "rolling"}, headers=operator
    )
    edge_error(answer, 503, "SERVICE_UNAVAILABLE")
    detail = (await client.get(f"/api/v1/workloads/{workload_id}", headers=operator)).json()
    assert (detail["status"], detail["rollout"]) == ("created", None)
    # Deployed once: an update must roll out, so without Temporal it changes nothing.
    await add_rollout(app, workload_id, rollout_id="r-1", state="completed")
    refused = await client.put(
        f"/api/v1/workloads/{workload_id}", json=SEED_UPDATE, headers=operator
    )
    edge_error(refused, 503, "SERVICE_UNAVAILABLE")
    detail = (await client.get(f"/api/v1/workloads/{workload_id}", headers=operator)).json()
    assert (detail["revision"], detail["replicas"]) == (1, 3)


async def add_rollout(app: FastAPI, workload_id: str, *, rollout_id: str, state: str) -> None:
    async with app_sessions(app)() as session, session.begin():
        row = await workloads.create_rollout(
            session,
            rollout_id=rollout_id,
            workload_id=workload_id,
            revision=1,
            strategy=RolloutStrategy(),
            target_nodes=[],
            requested_by=None,
        )
        row.state = state


# --- with Temporal: the rollout and removal runs -------------------------------------------


async def _rollout(
    live: LiveApi, token: str, workload_id: str, deployment_id: str
) -> dict[str, Any]:
    answer = await live.http.get(
        f"/api/v1/workloads/{workload_id}/rollouts/{deployment_id}", headers=bearer(token)
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def _state_becomes(
    live: LiveApi, token: str, workload_id: str, deployment_id: str, state: str
) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        rollout = await _rollout(live, token, workload_id, deployment_id)
        return rollout if rollout["state"] == state else None

    return await eventually(check)


async def _status_becomes(
    live: LiveApi, token: str, workload_id: str, status: str
) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        answer = await live.http.get(f"/api/v1/workloads/{workload_id}", headers=bearer(token))
        detail: dict[str, Any] = answer.json()
        return detail if detail["status"] == status else None

    return await eventually(check)


async def test_deploy_update_mid_rollout_steer_and_delete(
    live: LiveApi, tokens: dict[Role, str]
) -> None:
    http, op, viewer = live.http, tokens[Role.OPERATOR], tokens[Role.VIEWER]
    operator = bearer(op)
    first = await register(http, tokens[Role.ADMIN], name="edge-node-1")
    await register(http, tokens[Role.ADMIN], name="edge-node-2", address="192.168.1.101")
    workload_id = (await create(http, op))["id"]
    deploy_path = f"/api/v1/workloads/{workload_id}/deploy"

    unknown = await http.post(
        deploy_path, json={"nodes": [first["id"], "ghost-1", "ghost-2"]}, headers=operator
    )
    assert edge_error(unknown, 400, "BAD_REQUEST")["details"]["unknown_nodes"] == [
        "ghost-1",
        "ghost-2",
    ]
    bad_strategy = await http.post(deploy_path, json={"strategy": "fast"}, headers=operator)
    assert "strategy" in edge_error(bad_strategy, 400, "BAD_REQUEST")["details"]
    detail = (await http.get(f"/api/v1/workloads/{workload_id}", headers=operator)).json()
    assert (detail["status"], detail["rollout"]) == ("created", None)

    # The seed's deploy: node ids (a node name works too), a preset strategy.
    answer = await http.post(
        deploy_path, json={"nodes": [first["id"], "edge-node-2"], "strategy": "rolling"},
        headers=operator,
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    deployed = answer.json()
    assert set(deployed) >= {"id", "name", "status", "deployment_id", "target_nodes", "started_at"}
    assert (deployed["status"], deployed["revision"]) == ("deploying", 1)
    assert deployed["target_nodes"][0] == first["id"]
    assert len(deployed["target_nodes"]) == 2
    assert deployed["workflow_id"] == f"rollout/{workload_id}/1"
    assert deployed["temporal_ui_url"].endswith(f"/workflows/rollout%2F{workload_id}%2F1")
    done = await _state_becomes(live, viewer, workload_id, deployed["deployment_id"], "completed")
    assert done["progress"]["nodes_ready"] == 2
    # The run's query may say `completed` a moment before its record reaches the store.
    detail = await _status_becomes(live, viewer, workload_id, "running")
    assert detail["deployed_revision"] == 1
    assert first["id"] in detail["nodes"]
    assert len(detail["nodes"]) == 2
    assert detail["rollout"]["deployment_id"] == deployed["deployment_id"]

    # An update of a deployed workload rolls the new revision out to the same nodes.
    held = await http.put(
        f"/api/v1/workloads/{workload_id}", json={"image": "nginx:hold"}, headers=operator
    )
    assert held.status_code == 200, held.text
    assert (held.json()["status"], held.json()["revision"]) == ("updating", 2)
    hold_id = held.json()["deployment_id"]
    rollout = await _state_becomes(live, viewer, workload_id, hold_id, "running")
    assert sorted(rollout["target_nodes"]) == ["edge-node-1", "edge-node-2"]
    steer = f"/api/v1/workloads/{workload_id}/rollouts/{hold_id}"
    assert (await http.post(f"{steer}/pause", headers=operator)).json()["state"] == "paused"
    assert (await http.post(f"{steer}/resume", headers=operator)).json()["state"] == "running"
    edge_error(await http.post(f"{steer}/stop", headers=operator), 400, "BAD_REQUEST")
    again = await http.post(deploy_path, json={}, headers=operator)
    assert edge_error(again, 409, "CONFLICT")["details"]["deployment_id"] == hold_id

    # A newer revision mid-rollout supersedes the running one.
    newer = await http.put(
        f"/api/v1/workloads/{workload_id}", json={"image": "nginx:1.27"}, headers=operator
    )
    assert newer.json()["revision"] == 3
    await _state_becomes(live, viewer, workload_id, hold_id, "superseded")
    await _state_becomes(live, viewer, workload_id, newer.json()["deployment_id"], "completed")
    edge_error(await http.post(f"{steer}/abort", headers=operator), 409, "CONFLICT")

    # Abort a held rollout: it ends rolled back, and the workload says so.
    aborted = await http.put(
        f"/api/v1/workloads/{workload_id}", json={"image": "nginx:hold"}, headers=operator
    )
    abort_path = f"/api/v1/workloads/{workload_id}/rollouts/{aborted.json()['deployment_id']}"
    await _state_becomes(live, viewer, workload_id, aborted.json()["deployment_id"], "running")
    assert (await http.post(f"{abort_path}/abort", headers=operator)).status_code == 200
    await _state_becomes(live, viewer, workload_id, aborted.json()["deployment_id"], "rolled_back")

    removed = await http.delete(f"/api/v1/workloads/{workload_id}", headers=operator)
    assert removed.status_code == 200, removed.text
    assert removed.json()["success"] is True
    assert removed.json()["message"] == "Workload successfully removed"
    assert removed.json()["workflow_id"] == f"workload-removal/{workload_id}"
    gone = await http.get(f"/api/v1/workloads/{workload_id}", headers=operator)
    edge_error(gone, 404, "NOT_FOUND")


async def test_a_rollout_row_without_a_run_does_not_block_a_deploy(
    live: LiveApi, tokens: dict[Role, str]
) -> None:
    operator = bearer(tokens[Role.OPERATOR])
    workload_id = (await create(live.http, tokens[Role.OPERATOR]))["id"]
    # As if the API had stopped between committing the row and starting the run.
    await add_rollout(live.app, workload_id, rollout_id="orphan", state="pending")
    answer = await live.http.post(f"/api/v1/workloads/{workload_id}/deploy", headers=operator)
    assert answer.status_code == 200, answer.text
    orphan = await _rollout(live, tokens[Role.VIEWER], workload_id, "orphan")
    assert (orphan["state"], orphan["error"]) == ("failed", "its run is no longer running")
