"""Determinism guard: recorded and live DeviceJoin histories replay on today's code."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from tests.workflows.join.fake_join_activities import FakeJoinActivities
from tests.workflows.join.record_history import HISTORIES, record_join
from workflows.join.device_join import DeviceJoinWorkflow


def replayer() -> Replayer:
    return Replayer(workflows=[DeviceJoinWorkflow], data_converter=pydantic_data_converter)


@pytest.mark.parametrize("path", sorted(HISTORIES.glob("device_join_*.json")), ids=lambda p: p.stem)
async def test_recorded_history_replays(path: Path) -> None:
    text = await asyncio.to_thread(path.read_text)
    history = WorkflowHistory.from_json(f"device-join/{path.stem}", text)
    await replayer().replay_workflow(history)


def test_histories_are_present() -> None:
    # A missing fixture must fail loudly rather than parametrize to nothing.
    assert len(list(HISTORIES.glob("device_join_*.json"))) >= 2


async def test_live_history_replays(time_skipping_env: WorkflowEnvironment) -> None:
    text = await record_join(
        time_skipping_env.client, name="live-replay", fakes=FakeJoinActivities(ready_after_polls=2)
    )
    await replayer().replay_workflow(WorkflowHistory.from_json("device-join/live-replay", text))
