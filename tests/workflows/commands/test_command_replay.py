"""Determinism guard: recorded CommandWorkflow histories replay on today's code."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tests.workflows.commands.record_command_history import HISTORIES
from workflows.commands.command import CommandWorkflow


@pytest.mark.parametrize("path", sorted(HISTORIES.glob("command_*.json")), ids=lambda p: p.stem)
async def test_recorded_command_history_replays(path: Path) -> None:
    text = await asyncio.to_thread(path.read_text)
    history = WorkflowHistory.from_json(f"command/{path.stem}", text)
    replayer = Replayer(workflows=[CommandWorkflow], data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)


def test_command_histories_are_present() -> None:
    assert len(list(HISTORIES.glob("command_*.json"))) >= 2
