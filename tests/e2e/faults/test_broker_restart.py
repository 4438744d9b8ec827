"""The MQTT broker restarted with 100 commands in flight to simulated devices.

Each command must end `completed` when its device answered and `timed_out` when it did
not, in the API and in the store: none lost, none left pending.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from simulator.device import Mode
from store import commands
from tests.e2e.command_stack import CommandStack, command_settings, running_command_stack
from tests.e2e.restartable_broker import RestartableBroker, restartable_broker
from tests.support.helpers import eventually

__all__ = ["restartable_broker"]  # the fixture, used by name below

DEVICES, PER_DEVICE, SILENT = 20, 5, 4
SILENT_TIMEOUT = 15  # seconds: past the restart
ANSWER_TIMEOUT = 600  # far past it, so a late answer on a loaded machine is no timeout

# Room for a loaded 2-core machine: the stack's first start in a session alone can take a
# minute (temporalio hashes every loaded module for the worker's build ID).
pytestmark = pytest.mark.timeout(300)


async def send(stack: CommandStack, device_id: str, *, seconds: int) -> str:
    answer = await stack.http.post(
        f"/api/kubeedge/device/{device_id}/command",
        json={"command": "get_status", "timeout": seconds},
        headers=stack.auth,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["command_status"] == "sent"
    return str(answer.json()["command_id"])


async def states(stack: CommandStack, command_ids: list[str]) -> dict[str, str | None]:
    """Each command's state as the store records it."""
    async with stack.sessions() as session:
        rows = [await commands.get_command(session, command_id=c) for c in command_ids]
    return {c: row.status if row else None for c, row in zip(command_ids, rows, strict=True)}


async def test_a_broker_restart_loses_none_of_100_commands_in_flight(
    dev_env: WorkflowEnvironment,
    kube_sandbox_url: str,
    restartable_broker: RestartableBroker,
    tmp_path: Path,
) -> None:
    await restartable_broker.start()
    broker = restartable_broker.broker
    settings = command_settings(
        data_dir=tmp_path, temporal=dev_env.client, sandbox_url=kube_sandbox_url, broker=broker
    )
    async with running_command_stack(settings, dev_env.client) as stack:
        fleet = await stack.devices(DEVICES, mqtt=broker)
        try:
            device_ids = sorted(fleet.devices)
            silent = device_ids[:SILENT]
            answering = device_ids[SILENT:]
            # Answering devices hold their answers until the broker is back; silent ones
            # never answer. The silent ones' commands go last so they outlive the restart.
            for device_id in device_ids:
                fleet.device(device_id).mode = Mode.HANG if device_id in silent else Mode.HOLD
            sent, targets = [], []
            for group, seconds in ((answering, ANSWER_TIMEOUT), (silent, SILENT_TIMEOUT)):
                batch = [d for d in group for _ in range(PER_DEVICE)]
                sent += await asyncio.gather(*(send(stack, d, seconds=seconds) for d in batch))
                targets += batch
            device_of = dict(zip(sent, targets, strict=True))

            async def all_delivered() -> bool:
                return all(fleet.device(d).counts["commands"] == PER_DEVICE for d in device_ids)

            await eventually(all_delivered)
            in_flight = Counter((await states(stack, sent)).values())
            await restartable_broker.restart()
            for device_id in answering:
                fleet.device(device_id).mode = Mode.NORMAL

            async def all_final() -> dict[str, str | None] | None:
                found = await states(stack, sent)
                return found if set(found.values()) <= set(commands.FINAL_STATES) else None

            try:
                final = await eventually(all_final, within=120)
            except AssertionError:
                left = Counter((await states(stack, sent)).values())
                raise AssertionError(f"not every command ended: {left}") from None
            answers = {d: fleet.device(d).counts["answers"] for d in device_ids}
            api = {c: await status_in_api(stack, c) for c in sent}
        finally:
            await fleet.stop()

    assert len(set(sent)) == DEVICES * PER_DEVICE
    assert in_flight == {"sent": DEVICES * PER_DEVICE}, "every command in flight at the restart"
    expected = {c: "timed_out" if d in silent else "completed" for c, d in device_of.items()}
    assert final == expected
    assert Counter(final.values()) == {
        "completed": (DEVICES - SILENT) * PER_DEVICE,
        "timed_out": SILENT * PER_DEVICE,
    }
    # The API says the same, and each answering device answered each of its commands once.
    assert api == {c: (state, state == "completed") for c, state in expected.items()}
    assert answers == {d: 0 if d in silent else PER_DEVICE for d in device_ids}


async def status_in_api(stack: CommandStack, command_id: str) -> tuple[str, bool]:
    """The command's status and whether its result says success, as the API answers."""
    answer = await stack.http.get(f"/api/kubeedge/command/{command_id}/status", headers=stack.auth)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return str(body["status"]), bool(body["result"]["success"])
