"""The CloudCore document's Python SDK example, verbatim but for the address and the key,
runs against the stack: it counts the fleet, joins camera-001, queues a command for it
(offline), then prints live events as a device's heartbeats arrive."""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys

from tests.e2e.command_stack import CommandStack
from tests.e2e.sdk.conftest import new_api_key, sdk_env
from tests.support.mqtt_fixtures import Broker
from tests.support.sdk_example import substituted


async def _line(stream: asyncio.StreamReader, seen: list[str], pattern: str) -> re.Match[str]:
    while True:
        raw = await stream.readline()
        assert raw, "the example ended early:\n" + "".join(seen)
        seen.append(raw.decode())
        if found := re.search(pattern, seen[-1]):
            return found


async def test_the_documents_sdk_example_runs_unchanged(
    stack: CommandStack, mqtt_broker: Broker
) -> None:
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
