"""Every request example of both contract documents, replayed against the running stack
(API over uvicorn, worker, bridge, Temporal dev server, broker, Kubernetes sandbox, a
simulated fleet): each answer must be a success and hold every field the document's
response example shows, with the same JSON type (an integer where it shows one).

The examples are the documents' own, kept as data (tests/support/document_examples.json,
written from the documents by tests/support/seed_examples.py). The paths,
bodies and headers are the documents'; only IDs are ours (runs on the shared dev server
outlive a test, and the commands need devices that are online), and the `<token>`
placeholder is a real login. Where we differ from a document on purpose, the exception
is named here with its reason and written in docs/api-notes.md ("Where we differ from
the documents").
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from simulator.fleet import Fleet
from tests.e2e.command_stack import CommandStack, command_settings, running_command_stack
from tests.e2e.stack import ADMIN_PASSWORD
from tests.support.document_examples import Example, examples
from tests.support.json_shapes import shape_mismatches
from tests.support.mqtt_fixtures import Broker

# Deliberate differences, each replayed as written and answered as stated.
AS_WRITTEN_REFUSED = {
    ("POST", "/api/auth/login"): (401, "the demo password admin123 is refused: no default "
                                       "password ships; the replay logs in with ours"),
    ("GET", "/api/kubeedge/monitor/stream"): (401, "the stream needs a credential (header or "
                                                   "?token=); its events: tests/e2e/live"),
    ("GET", "/api/kubeedge/command/cmd_12345/status"): (401, "every route but health and the "
                                                             "docs needs a credential"),
}  # fmt: skip

# Deliberate differences that no example shows, and where they are tested.
BEYOND_THE_EXAMPLES = {
    "batch join of more than 10 devices": "the document's limit was the original's, not "
    "the contract's: up to EDGEWRIGHT_BATCH_MAX_DEVICES (tests/e2e/join/test_batch_join.py)",
    "WebSocket without a credential": "refused like the stream (tests/api/live)",
}

# Values the document shows that we answer null in this replay, and why.
NULL_HERE = {
    "join_command": "with status accepted (202) while provisioning",
    "device_status.cpu_usage": "a device reports usage through PUT /api/v1/nodes/{id}/status",
    "device_status.memory_usage": "as cpu_usage",
    "device_status.temperature": "as cpu_usage",
    "metrics.uptime": "null until the device's Node is Ready (the sandbox runs no kubelet)",
    "average_latency": "null before the device (or, in the fleet summary, any device) "
    "answers a command",
    "age": "the Node's age; null before a Node exists",
    "version": "the Node's kubelet version; null before a Node exists",
    "last_heartbeat": "null before the first heartbeat",
    "sent_at": "null while the command waits for its device (202)",
    "result": "null until the command is over",
    "execution_time": "null until the command is over",
    "size": "null while the backup runs (202)",
    "location": "null while the backup runs (202)",
    "created_at": "the first rollout's start; null before it",
    "kubernetes.version": "what the worker last read; the sandbox reports none",
    "kubernetes.nodes": "null before the worker's first node sync",
    "kubernetes.pods": "null before the worker's first node sync",
    "nodePort": "the sandbox allocates no node ports (a cluster does)",
    "tokens.device_id": "a token issued for a node no device is on yet",
    "nodes.address": "a joined device's address is its Node's InternalIP: null before a Node",
}

# Objects whose keys are data, not fields: only their type is checked.
FREE_FORM = {
    "configuration": "what the device's join was given",
    "cloudcore.ports": "keyed by the Service's own port names (KubeEdge's cloudhub, "
    "cloudhub-quic, cloudhub-https, cloudstream, tunnelport); the document's `websocket` "
    "is no KubeEdge port",
    "cloudcore.nodeports": "as ports",
    "devices_by_type": "keyed by the fleet's own device types",
    "nodes": "GET /api/v1/metrics: keyed by the fleet's own node IDs",
}


def _field(problem: str) -> str:
    """The field a problem is about, list positions left out."""
    return re.sub(r"\[\d+\]", "", problem.split(":")[0])


def _null_here(problem: str) -> bool:
    parts = _field(problem).split(".")
    return any(".".join(parts[i:]) in NULL_HERE for i in range(len(parts)))


@pytest.fixture
async def stack(
    dev_env: WorkflowEnvironment, kube_sandbox_url: str, mqtt_broker: Broker, tmp_path: Path
) -> AsyncIterator[CommandStack]:
    settings = command_settings(
        data_dir=tmp_path, temporal=dev_env.client, sandbox_url=kube_sandbox_url, broker=mqtt_broker
    ).model_copy(update={"command_wait_max_seconds": 5.0, "backup_answer_timeout_seconds": 60.0})
    async with running_command_stack(settings, dev_env.client) as running:
        yield running


@pytest.fixture
async def fleet_of(stack: CommandStack, mqtt_broker: Broker) -> AsyncIterator[Any]:
    fleets: list[Fleet] = []

    async def make(count: int) -> Fleet:
        fleet = await stack.devices(count, mqtt=mqtt_broker)
        fleets.append(fleet)
        return fleet

    yield make
    for fleet in fleets:
        await fleet.stop()


class Replay:
    """Sends examples with our IDs and credentials, and keeps what a later one needs."""

    def __init__(self, stack: CommandStack, ids: dict[str, str]) -> None:
        self.stack = stack
        self.ids = ids
        self.problems: list[str] = []

    def ours(self, value: Any) -> Any:
        """The document's IDs swapped for ours, whole words only (device-001 is not a
        part of edge-device-001), in one pass."""
        keys = sorted(self.ids, key=len, reverse=True)
        pattern = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, keys)) + r")(?![\w-])")
        return json.loads(pattern.sub(lambda m: self.ids[m.group(1)], json.dumps(value)))

    async def send(self, example: Example, *, auth: bool = False) -> httpx.Response:
        """As written, with a real token for `<token>` (or, with `auth`, added)."""
        headers = dict(example.headers)
        # The Edge document asks for the header on every request without showing it.
        if "Authorization" in headers or auth or example.document == "edge":
            headers["Authorization"] = f"Bearer {self.stack.token}"
        kwargs: dict[str, Any] = {"headers": headers}
        if example.body is not None:
            kwargs["content"] = json.dumps(self.ours(example.body))  # as curl -d sends it
        return await self.stack.http.request(example.method, self.ours(example.path), **kwargs)

    async def check(self, example: Example) -> dict[str, Any]:
        refused = AS_WRITTEN_REFUSED.get((example.method, example.path))
        if refused is not None:
            as_written = await self.stack.http.request(
                example.method, self.ours(example.path), headers=example.headers,
                content=json.dumps(example.body) if example.body is not None else None,
            )  # fmt: skip
            if as_written.status_code != refused[0]:
                self.problems.append(f"{example.name}: as written {as_written.status_code}")
            if example.path.endswith("/stream"):
                return {}  # the stream itself is tests/e2e/live's
        answer = await self.send(example, auth=refused is not None)
        if not answer.is_success:
            self.problems.append(f"{example.name}: {answer.status_code} {answer.text[:300]}")
            return {}
        body: dict[str, Any] = answer.json()
        if example.response is not None:
            for problem in shape_mismatches(example.response, body):
                if problem.endswith("null in the answer") and _null_here(problem):
                    continue
                if any(_field(problem).startswith(f"{key}.") for key in FREE_FORM):
                    continue
                self.problems.append(f"{example.name}: {problem}")
        return body


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:6]}"


async def test_cloudcore_document_examples(stack: CommandStack, fleet_of: Any) -> None:
    fleet = await fleet_of(2)
    online = sorted(fleet.devices)
    ids = {
        # joined, listed and removed through the examples
        "edge-node-001": unique("edge-node-001"), "edge-device-001": unique("edge-device-001"),
        "edge-node-002": unique("edge-node-002"), "edge-node-003": unique("edge-node-003"),
        "camera-001": unique("camera-001"), "camera-002": unique("camera-002"),
        "sensor-001": unique("sensor-001"),
        "new-node": unique("new-node"), "new-device": unique("new-device"),
        "backup-20240115": unique("backup-20240115"),
        # devices that must be online: the fleet's
        "edge-device-laptop-001": online[0], "edge-device-002": online[1],
        "device-001": online[0],
        "admin123": ADMIN_PASSWORD,  # refused as written; see AS_WRITTEN_REFUSED
        # A webhook's host must resolve to a public address when it is saved; this one
        # needs no DNS. Deliveries to it run in tests/e2e/webhooks, to a local receiver.
        "https://your-server.com/webhook": "https://93.184.215.14/webhook",
    }  # fmt: skip
    replay = Replay(stack, ids)
    for example in examples("cloudcore"):
        if example.path == "/api/kubeedge/restore":
            replay.ids["backup_20240115"] = replay.ids["backup-20240115"]  # name is the id
        if (
            "/command" in example.path
            or example.path.endswith("apps/deploy")
            or (example.path.endswith("test/connection"))
        ):
            replay.ids["edge-device-001"] = online[0]  # commands and apps need it online
        body = await replay.check(example)
        if example.path.endswith("/command") and "command_id" in body:
            replay.ids["cmd_12345"] = body["command_id"]
    assert not replay.problems, "\n".join(replay.problems)


async def test_edge_document_examples(stack: CommandStack, fleet_of: Any) -> None:
    fleet = await fleet_of(2)
    node_ids = []
    for device_id in sorted(fleet.devices):
        detail = await stack.http.get(f"/api/kubeedge/device/{device_id}", headers=stack.auth)
        node_ids.append(detail.json()["node_id"])
    replay = Replay(stack, {"edge-node-1": unique("edge-node-1"), "web-app": unique("web-app"),
                            "node-uuid-1": node_ids[0], "node-uuid-2": node_ids[1]})  # fmt: skip
    edge = examples("edge")
    # A sample is kept only if it is recent (half the raw retention, docs/api-notes.md
    # "Metrics"): the document's dated timestamp becomes now.
    for example in edge:
        if example.method == "POST" and example.path.startswith("/api/v1/metrics/nodes/"):
            replay.ids[example.body["timestamp"]] = datetime.now(UTC).isoformat()
    # Deletions last: the document deletes a node and a workload before using them again.
    ordered = [e for e in edge if e.method != "DELETE"] + [e for e in edge if e.method == "DELETE"]
    for example in ordered:
        body = await replay.check(example)
        if example.path == "/api/v1/nodes" and example.method == "POST":
            replay.ids["{node-id}"] = body.get("id", "")
        if example.path == "/api/v1/workloads" and example.method == "POST":
            replay.ids["{workload-id}"] = body.get("id", "")
        if example.path == "/api/v1/security/tokens":
            token = body.get("token", "")
            replay.ids["eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9..."] = token
    assert not replay.problems, "\n".join(replay.problems)
