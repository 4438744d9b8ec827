"""CommandWorkflow and BroadcastCommandWorkflow on the time-skipping server, with stand-ins."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from tests.support.helpers import eventually
from tests.workflows.commands.fake_command_activities import FakeCommandActivities
from workflows.commands.broadcast import BroadcastCommandWorkflow
from workflows.commands.command import CommandWorkflow
from workflows.contracts.commands import (
    COMMAND_ACCEPTED_UPDATE,
    COMMAND_CANCEL_UPDATE,
    COMMAND_DEVICE_ONLINE_SIGNAL,
    COMMAND_FINISHED_UPDATE,
    COMMAND_RESULT_SIGNAL,
    COMMAND_STATUS_QUERY,
    BroadcastInput,
    CommandInput,
    CommandState,
    CommandStatus,
    DeviceResult,
)

Handle = WorkflowHandle[CommandWorkflow, CommandStatus]


@pytest.fixture
async def fakes(time_skipping_env: WorkflowEnvironment) -> FakeCommandActivities:
    return FakeCommandActivities(time_skipping_env.client)


@pytest.fixture
async def task_queue(
    time_skipping_env: WorkflowEnvironment, fakes: FakeCommandActivities
) -> AsyncIterator[str]:
    queue = f"command-{uuid.uuid4()}"
    async with Worker(
        time_skipping_env.client,
        task_queue=queue,
        workflows=[CommandWorkflow, BroadcastCommandWorkflow],
        activities=fakes.all(),
    ):
        yield queue


def command(
    *, timeout: float = 30, connect: float = 60, fingerprint: str = "fp", poll: float = 10
) -> CommandInput:
    return CommandInput(
        command_id=f"cmd_{uuid.uuid4().hex[:8]}",
        device_id="camera-001",
        command="capture_image",
        parameters={"resolution": "1920x1080"},
        timeout_seconds=timeout,
        connect_timeout_seconds=connect,
        fingerprint=fingerprint,
        presence_poll_seconds=poll,
    )


async def start(env: WorkflowEnvironment, queue: str, inp: CommandInput) -> Handle:
    return await env.client.start_workflow(
        CommandWorkflow.run, inp, id=f"command/{inp.command_id}", task_queue=queue
    )


def result(inp: CommandInput, *, success: bool = True) -> DeviceResult:
    return DeviceResult(
        command_id=inp.command_id,
        device_id=inp.device_id,
        success=success,
        result={"image_url": "file:///x.jpg"} if success else None,
        error=None if success else "lens cap on",
        received_at=datetime.now(UTC),
    )


async def test_a_command_is_sent_and_completes_with_the_devices_answer(
    time_skipping_env: WorkflowEnvironment, task_queue: str, fakes: FakeCommandActivities
) -> None:
    inp = command()
    handle = await start(time_skipping_env, task_queue, inp)
    accepted = await handle.execute_update(COMMAND_ACCEPTED_UPDATE, "fp", result_type=CommandStatus)
    assert accepted.state == CommandState.SENT
    assert accepted.node_name == "node-camera-001"
    await handle.signal(COMMAND_RESULT_SIGNAL, result(inp))
    done = await handle.result()
    assert done.state == CommandState.COMPLETED
    assert done.success is True
    assert done.result == {"image_url": "file:///x.jpg"}
    assert fakes.final(inp.command_id) == done

    # The history replays on today's code.
    history = await handle.fetch_history()
    replayer = Replayer(workflows=[CommandWorkflow], data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)


async def test_a_failed_answer_is_a_failed_command(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    inp = command()
    handle = await start(time_skipping_env, task_queue, inp)
    await handle.signal(COMMAND_RESULT_SIGNAL, result(inp, success=False))
    done = await handle.result()
    assert (done.state, done.error, done.error_type) == (
        CommandState.FAILED,
        "lens cap on",
        "DeviceFailed",
    )


async def test_a_silent_device_times_out_exactly_at_the_timeout(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    inp = command(timeout=45)
    handle = await start(time_skipping_env, task_queue, inp)
    done = await handle.result()  # the server skips the 45 s
    assert done.state == CommandState.TIMED_OUT
    assert done.sent_at is not None
    assert done.completed_at is not None
    assert done.completed_at - done.sent_at >= timedelta(seconds=45)
    # The wait for the answer is one timer of exactly `timeout`, not a poll.
    timers = [
        event.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
        async for event in handle.fetch_history_events()
        if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED
    ]
    assert timers == [timedelta(seconds=45)]


async def test_an_offline_device_gets_its_command_when_it_comes_back(
    time_skipping_env: WorkflowEnvironment, task_queue: str, fakes: FakeCommandActivities
) -> None:
    fakes.online = False
    inp = command(connect=600)
    handle = await start(time_skipping_env, task_queue, inp)
    waiting = await handle.execute_update(COMMAND_ACCEPTED_UPDATE, "fp", result_type=CommandStatus)
    assert waiting.state == CommandState.QUEUED
    assert waiting.waiting_for_device
    assert fakes.dispatched == []

    fakes.online = True
    await handle.signal(COMMAND_DEVICE_ONLINE_SIGNAL)

    async def sent() -> bool:
        status = await handle.query(COMMAND_STATUS_QUERY, result_type=CommandStatus)
        return status.state == CommandState.SENT

    await eventually(sent)
    assert fakes.dispatched == [inp.command_id]
    await handle.signal(COMMAND_RESULT_SIGNAL, result(inp))
    assert (await handle.result()).state == CommandState.COMPLETED


async def test_a_device_that_stays_offline_fails_at_the_connect_timeout(
    time_skipping_env: WorkflowEnvironment, task_queue: str, fakes: FakeCommandActivities
) -> None:
    fakes.online = False
    inp = command(connect=120, poll=60)  # two looks at presence, then the deadline
    handle = await start(time_skipping_env, task_queue, inp)
    done = await handle.result()
    assert (done.state, done.error_type) == (CommandState.FAILED, "DeviceUnreachable")
    assert done.sent_at is None
    assert done.completed_at is not None
    assert done.completed_at - done.queued_at >= timedelta(seconds=120)


async def test_an_unknown_device_fails_at_once(
    time_skipping_env: WorkflowEnvironment, task_queue: str, fakes: FakeCommandActivities
) -> None:
    fakes.known = False
    done = await (await start(time_skipping_env, task_queue, command())).result()
    assert (done.state, done.error_type) == (CommandState.FAILED, "UnknownDevice")


async def test_a_late_answer_is_recorded_as_late_and_changes_nothing(
    time_skipping_env: WorkflowEnvironment, task_queue: str, fakes: FakeCommandActivities
) -> None:
    fakes.hold_final_record = asyncio.Event()
    inp = command(timeout=2)
    handle = await start(time_skipping_env, task_queue, inp)
    async with asyncio.timeout(30):
        await fakes.final_record_started.wait()  # timed out; recording it now
    await handle.signal(COMMAND_RESULT_SIGNAL, result(inp))
    fakes.hold_final_record.set()
    # No skipping now: a skipped-over workflow-task timeout during the held local
    # activity would replay the timer and the answer in one activation.
    with time_skipping_env.auto_time_skipping_disabled():
        done = await handle.result()
    assert done.state == CommandState.TIMED_OUT
    assert done.late_result is None or done.late_result.command_id == inp.command_id
    assert [late.command_id for late in fakes.late] == [inp.command_id]
    assert fakes.final(inp.command_id) is not None
    assert fakes.final(inp.command_id).state == CommandState.TIMED_OUT  # type: ignore[union-attr]


async def test_cancel_through_the_update(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    inp = command(timeout=3600)
    handle = await start(time_skipping_env, task_queue, inp)
    await handle.execute_update(COMMAND_ACCEPTED_UPDATE, "fp", result_type=CommandStatus)
    cancelled = await handle.execute_update(COMMAND_CANCEL_UPDATE, result_type=CommandStatus)
    assert cancelled.state == CommandState.CANCELLED
    assert (await handle.result()).state == CommandState.CANCELLED
    # An answer after the cancel does not revive it.
    again = await handle.query(COMMAND_STATUS_QUERY, result_type=CommandStatus)
    assert again.state == CommandState.CANCELLED


async def test_another_request_under_the_same_id_is_refused(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    handle = await start(time_skipping_env, task_queue, command(fingerprint="one"))
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(COMMAND_FINISHED_UPDATE, "two", result_type=CommandStatus)
    await handle.execute_update(COMMAND_CANCEL_UPDATE, result_type=CommandStatus)


async def test_a_broadcast_collects_answers_until_every_online_device_answered(
    time_skipping_env: WorkflowEnvironment, task_queue: str, fakes: FakeCommandActivities
) -> None:
    fakes.expected = 2
    inp = BroadcastInput(
        command_id=f"cmd_{uuid.uuid4().hex[:8]}",
        device_type="camera",
        command="reboot",
        timeout_seconds=60,
    )
    handle = await time_skipping_env.client.start_workflow(
        BroadcastCommandWorkflow.run, inp, id=f"command/{inp.command_id}", task_queue=task_queue
    )
    for device, success in (("cam-a", True), ("cam-b", False), ("cam-a", True)):
        answer = DeviceResult(
            command_id=inp.command_id,
            device_id=device,
            success=success,
            received_at=datetime.now(UTC),
        )
        await handle.signal(COMMAND_RESULT_SIGNAL, answer)
    done = await handle.result()
    assert done.state == CommandState.COMPLETED
    assert done.answered == 2
    assert done.result == {"expected": 2, "answered": 2, "succeeded": 1, "failed": 1}
    assert done.success is False
