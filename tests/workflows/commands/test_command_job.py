"""CommandJobWorkflow and ConnectionTestWorkflow on the time-skipping server, with stand-ins."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.support.helpers import eventually
from tests.workflows.commands.fake_command_activities import FakeCommandActivities
from workflows.commands.command import CommandWorkflow
from workflows.commands.command_job import CommandJobWorkflow
from workflows.commands.connection_test import ConnectionTestWorkflow
from workflows.contracts.commands import (
    JOB_ABORT_SIGNAL,
    JOB_PAUSE_SIGNAL,
    JOB_PROGRESS_QUERY,
    JOB_RESUME_SIGNAL,
    CommandJobInput,
    CommandState,
    ConnectionTestInput,
    JobProgress,
    JobState,
)

DEVICES = [f"dev-{n:03d}" for n in range(1, 21)]


@pytest.fixture
async def fakes(time_skipping_env: WorkflowEnvironment) -> FakeCommandActivities:
    return FakeCommandActivities(time_skipping_env.client, devices=DEVICES)


@pytest.fixture
async def task_queue(
    time_skipping_env: WorkflowEnvironment, fakes: FakeCommandActivities
) -> AsyncIterator[str]:
    queue = f"jobs-{uuid.uuid4()}"
    async with Worker(
        time_skipping_env.client,
        task_queue=queue,
        workflows=[CommandJobWorkflow, CommandWorkflow, ConnectionTestWorkflow],
        activities=fakes.all(),
    ):
        yield queue


def job(**changes: object) -> CommandJobInput:
    values: dict[str, object] = {
        "job_id": f"job_{uuid.uuid4().hex[:8]}",
        "command": "reboot",
        "rate_per_minute": 6000,
        "timeout_seconds": 30,
        "connect_timeout_seconds": 0,
        **changes,
    }
    return CommandJobInput.model_validate(values)


async def start(
    env: WorkflowEnvironment, queue: str, inp: CommandJobInput
) -> WorkflowHandle[CommandJobWorkflow, JobProgress]:
    return await env.client.start_workflow(
        CommandJobWorkflow.run, inp, id=f"command-job/{inp.job_id}", task_queue=queue
    )


async def test_a_job_runs_the_command_on_every_selected_device(
    time_skipping_env: WorkflowEnvironment, task_queue: str, fakes: FakeCommandActivities
) -> None:
    fakes.answers = dict.fromkeys(DEVICES, True)
    inp = job(continue_after=7)  # three continue-as-new generations on the way
    done = await (await start(time_skipping_env, task_queue, inp)).result()
    assert done.state == JobState.COMPLETED
    assert (done.total, done.started, done.succeeded, done.failed) == (20, 20, 20, 0)
    assert done.runs == 3
    assert sorted(fakes.dispatched) == sorted(f"{inp.job_id}.{d}" for d in DEVICES)
    finals = [fakes.final(f"{inp.job_id}.{d}") for d in DEVICES]
    assert all(status is not None and status.origin == f"job/{inp.job_id}" for status in finals)


async def test_a_job_aborts_when_the_failed_share_reaches_the_threshold(
    time_skipping_env: WorkflowEnvironment, task_queue: str, fakes: FakeCommandActivities
) -> None:
    # Every other device fails; at 3 per minute the first five finish long before more
    # start, and 40% failed passes the 30% threshold.
    fakes.answers = {device: n % 2 == 0 for n, device in enumerate(DEVICES)}
    inp = job(rate_per_minute=3, abort_threshold_percent=30, min_executed_for_abort=5)
    done = await (await start(time_skipping_env, task_queue, inp)).result()
    assert done.state == JobState.ABORTED
    assert done.executed >= 5
    assert done.failed_percent >= 30
    assert done.abort_reason is not None
    assert "threshold 30%" in done.abort_reason
    assert done.started < 20  # the rest were never started
    assert done.succeeded + done.failed + done.cancelled == done.started


async def test_timeouts_count_as_failures_and_aborted_jobs_cancel_what_runs(
    time_skipping_env: WorkflowEnvironment, task_queue: str, fakes: FakeCommandActivities
) -> None:
    # Half the devices hang; the other half answer. Per-device timeout 60 s.
    fakes.answers = {device: True for n, device in enumerate(DEVICES) if n % 2 == 0}
    inp = job(timeout_seconds=60, abort_threshold_percent=40, min_executed_for_abort=4)
    done = await (await start(time_skipping_env, task_queue, inp)).result()
    assert done.state in (JobState.ABORTED, JobState.COMPLETED)
    assert done.timed_out == done.failed
    if done.state == JobState.ABORTED:
        cancelled = [
            fakes.final(f"{inp.job_id}.{d}")
            for d in DEVICES
            if fakes.final(f"{inp.job_id}.{d}") is not None
        ]
        states = {status.state for status in cancelled if status is not None}
        assert states <= {CommandState.COMPLETED, CommandState.TIMED_OUT, CommandState.CANCELLED}


async def test_pause_resume_and_abort(
    time_skipping_env: WorkflowEnvironment, task_queue: str, fakes: FakeCommandActivities
) -> None:
    fakes.answers = dict.fromkeys(DEVICES, True)
    handle = await start(time_skipping_env, task_queue, job(rate_per_minute=1))

    async def progress() -> JobProgress:
        return await handle.query(JOB_PROGRESS_QUERY, result_type=JobProgress)

    await eventually(lambda: _started(progress, 1))
    await handle.signal(JOB_PAUSE_SIGNAL)
    assert (await progress()).state == JobState.PAUSED
    await handle.signal(JOB_RESUME_SIGNAL)
    assert (await progress()).state == JobState.RUNNING
    await handle.signal(JOB_ABORT_SIGNAL, "operator says stop")
    done = await handle.result()
    assert done.state == JobState.ABORTED
    assert done.abort_reason == "operator says stop"
    assert done.started < 20


async def _started(progress: object, at_least: int) -> bool:
    current = await progress()  # type: ignore[operator]
    return bool(current.started >= at_least)


async def test_a_connection_test_runs_each_check_as_a_command(
    time_skipping_env: WorkflowEnvironment, task_queue: str, fakes: FakeCommandActivities
) -> None:
    fakes.answers = {"camera-001": True}
    inp = ConnectionTestInput(
        test_id=f"test_{uuid.uuid4().hex[:8]}",
        device_id="camera-001",
        tests=["ping", "port_check", "camera_test"],
        timeout_seconds=10,
        connect_timeout_seconds=0,
    )
    done = await (
        await time_skipping_env.client.start_workflow(
            ConnectionTestWorkflow.run,
            inp,
            id=f"device-test/{inp.test_id}",
            task_queue=task_queue,
        )
    ).result()
    assert done.state == "completed"
    assert [r.name for r in done.results] == ["ping", "port_check", "camera_test"]
    assert done.passed == 3
    assert {r.command_id for r in done.results} == {
        f"{inp.test_id}.{name}" for name in ("ping", "port_check", "camera_test")
    }
