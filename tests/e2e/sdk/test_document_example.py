"""The CloudCore document's Python SDK example, verbatim but for the address and the key,
runs against the stack: it counts the fleet, joins camera-001, queues a command for it
(offline), then prints live events as a device's heartbeats arrive."""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
from collections.abc import Iterator

import pytest
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from tests.e2e.command_stack import CommandStack
from tests.e2e.sdk.conftest import new_api_key, sdk_env
from tests.support.kube_fixtures import running_sandbox
from tests.support.mqtt_fixtures import Broker
from tests.support.sdk_example import substituted
from workflows.contracts.join import device_join_workflow_id


@pytest.fixture(scope="module")
def kube_sandbox_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A sandbox of its own: the document's names are fixed, and other tests on the shared
    sandbox join their own devices on edge-node-001 (its ConfigMap would not be ours)."""
    state = tmp_path_factory.mktemp("sdk-example-sandbox") / "sandbox-kube.json"
    with running_sandbox(state_path=state) as url:
        yield url


async def _line(stream: asyncio.StreamReader, seen: list[str], pattern: str) -> re.Match[str]:
    while True:
        raw = await stream.readline()
        assert raw, "the example ended early:\n" + "".join(seen)
        seen.append(raw.decode())
        if found := re.search(pattern, seen[-1]):
            return found


async def test_the_documents_sdk_example_runs_unchanged(
    stack: CommandStack, mqtt_broker: Broker, dev_env: WorkflowEnvironment
) -> None:
    # The dev server is shared too: a join of camera-001 left by an earlier run must not
    # answer this one.
    with contextlib.suppress(RPCError):
        await dev_env.client.get_workflow_handle(device_join_workflow_id("camera-001")).terminate(
            "the document's example joins camera-001 afresh"
        )
    key = await new_api_key(stack)
    script = substituted(url=stack.base_url, api_key=key)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        script,
        env=sdk_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    seen: list[str] = []
    fleet = None
    try:
        async with asyncio.timeout(90):
            assert (await _line(process.stdout, seen, r"Total devices: (\d+)"))[1] == "0"
            join = await _line(process.stdout, seen, r"Join command: (.*)")
            assert "keadm join" in join[1]
            command = await _line(process.stdout, seen, r"Command ID: (\S+)")
            # camera-001 has not joined: the command waits for it, under its own ID.
            status = await stack.http.get(
                f"/api/kubeedge/command/{command[1]}/status", headers=stack.auth
            )
            assert status.json()["status"] == "queued", status.text
            # A device comes online: its heartbeats reach the example's stream.
            fleet = await stack.devices(1, mqtt=mqtt_broker)
            node = fleet.config.node_prefix
            event = await _line(process.stdout, seen, r"Event: (\w+) from (\S+)")
            assert event[1] == "heartbeat"
            assert event[2].startswith(node)
    finally:
        if fleet is not None:
            await fleet.stop()
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
