"""The worker's sandbox: workflow modules it imports once are safe to share between runs."""

from __future__ import annotations

import importlib
import inspect
import uuid
from collections.abc import MutableMapping, MutableSequence, MutableSet
from datetime import UTC, datetime

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.workflows.commands.fake_command_activities import FakeCommandActivities
from workers.worker import SANDBOX, SHARED_WORKFLOW_MODULES
from workflows.commands.command import CommandWorkflow
from workflows.contracts.commands import (
    COMMAND_ACCEPTED_UPDATE,
    COMMAND_RESULT_SIGNAL,
    CommandInput,
    CommandState,
    CommandStatus,
    DeviceResult,
)

_MUTABLE = (MutableMapping, MutableSequence, MutableSet, bytearray)


def test_shared_workflow_modules_hold_no_mutable_state() -> None:
    # The SDK re-imports a workflow's module per run so that runs cannot share state
    # through it; a module imported once must give them nothing to share.
    assert SHARED_WORKFLOW_MODULES
    for name in SHARED_WORKFLOW_MODULES:
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if attr.startswith("__"):
                continue
            assert not isinstance(value, _MUTABLE), f"{name}.{attr} is mutable"
            if inspect.isclass(value) and value.__module__ == name:
                for member, held in vars(value).items():
                    assert not isinstance(held, _MUTABLE), f"{name}.{attr}.{member} is mutable"


async def test_commands_run_one_after_another_in_the_workers_sandbox(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    # Two runs on the module imported once (the worker's runner: CommandWorkflow runs
    # outside the sandbox, the job and connection-test workflows import its module inside
    # it): the second starts from its own state.
    fakes = FakeCommandActivities(time_skipping_env.client)
    queue = f"sandbox-{uuid.uuid4()}"
    async with Worker(
        time_skipping_env.client,
        task_queue=queue,
        workflows=[CommandWorkflow],
        activities=fakes.all(),
        workflow_runner=SANDBOX,
    ):
        for success in (True, False):
            inp = CommandInput(
                command_id=f"cmd_{uuid.uuid4().hex[:8]}",
                device_id="camera-001",
                command="capture_image",
                timeout_seconds=30,
                connect_timeout_seconds=60,
                fingerprint="fp",
            )
            handle = await time_skipping_env.client.start_workflow(
                CommandWorkflow.run, inp, id=f"command/{inp.command_id}", task_queue=queue
            )
            accepted = await handle.execute_update(
                COMMAND_ACCEPTED_UPDATE, "fp", result_type=CommandStatus
            )
            assert accepted.state == CommandState.SENT
            answer = DeviceResult(
                command_id=inp.command_id,
                device_id=inp.device_id,
                success=success,
                received_at=datetime.now(UTC),
            )
            await handle.signal(COMMAND_RESULT_SIGNAL, answer)
            done = await handle.result()
            assert done.command_id == inp.command_id
            assert done.state == (CommandState.COMPLETED if success else CommandState.FAILED)
            assert fakes.final(inp.command_id) == done
