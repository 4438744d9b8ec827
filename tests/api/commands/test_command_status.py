"""A command's status while no worker answers its run's query: its row, not a 503."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from api.commands.service import live_status
from store import commands
from store.models import utcnow
from workflows.contracts.commands import (
    COMMAND_WORKFLOW,
    CommandState,
    CommandStatus,
    command_workflow_id,
)

Sessions = async_sessionmaker[AsyncSession]


async def test_a_run_whose_worker_does_not_answer_is_answered_from_its_row(
    dev_env: WorkflowEnvironment, sessions: Sessions
) -> None:
    command_id = f"cmd_{uuid.uuid4().hex[:12]}"
    sent = CommandStatus(
        command_id=command_id,
        device_id="camera-001",
        command="capture_image",
        state=CommandState.SENT,
        timeout_seconds=30,
        queued_at=utcnow(),
        sent_at=utcnow(),
    )
    # No worker polls this queue, so the run's query cannot be answered.
    handle = await dev_env.client.start_workflow(
        COMMAND_WORKFLOW,
        {},
        id=command_workflow_id(command_id),
        task_queue=f"nobody-{uuid.uuid4()}",
    )
    try:
        quick = timedelta(seconds=0.5)
        # Without a row there is nothing to answer from: the caller's 503.
        with pytest.raises(RPCError):
            await live_status(dev_env.client, command_id=command_id, row=None, query_timeout=quick)
        async with sessions() as session, session.begin():
            await commands.save_command(session, status=sent, workflow_id=handle.id)
        async with sessions() as session:
            row = await commands.get_command(session, command_id=command_id)
        status = await live_status(
            dev_env.client, command_id=command_id, row=row, query_timeout=quick
        )
        assert status is not None
        assert (status.command_id, status.state) == (command_id, CommandState.SENT)
    finally:
        await handle.terminate()
