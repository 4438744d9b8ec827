"""Command rows and device presence on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store import commands
from store.devices import inventory as devices
from store.devices import presence
from store.devices import selection as device_selection
from store.devices.presence import Heartbeat
from workflows.contracts.commands import CommandState, CommandStatus, DeviceResult

Sessions = async_sessionmaker[AsyncSession]
NOW = datetime(2026, 1, 15, 10, 30, tzinfo=UTC)


def status(state: CommandState, **changes: object) -> CommandStatus:
    values: dict[str, object] = {
        "command_id": "cmd_1",
        "device_id": "cam-1",
        "command": "capture_image",
        "parameters": {"resolution": "1920x1080"},
        "state": state,
        "timeout_seconds": 30,
        "queued_at": NOW,
        **changes,
    }
    return CommandStatus.model_validate(values)


async def add_devices(sessions: Sessions, *names: str, device_type: str = "camera") -> None:
    async with sessions() as session, session.begin():
        for name in names:
            await devices.upsert_device(
                session, device_id=name, node_name=f"{name}-node", status="joined",
                device_type=device_type,
            )  # fmt: skip


async def test_a_final_row_is_never_overwritten_and_late_results_sit_beside_it(
    sessions: Sessions,
) -> None:
    async with sessions() as session, session.begin():
        assert await commands.save_command(
            session, status=status(CommandState.QUEUED), workflow_id="w"
        )
        sent = status(CommandState.SENT, sent_at=NOW)
        assert await commands.save_command(session, status=sent, workflow_id="w")
        done = status(CommandState.TIMED_OUT, sent_at=NOW, completed_at=NOW + timedelta(seconds=30))
        assert await commands.save_command(session, status=done, workflow_id="w")
        # A retried, out-of-order write of an earlier state changes nothing.
        assert not await commands.save_command(session, status=sent, workflow_id="w")
    late = DeviceResult(
        command_id="cmd_1", device_id="cam-1", success=True, result={"x": 1},
        received_at=NOW + timedelta(minutes=1),
    )  # fmt: skip
    async with sessions() as session, session.begin():
        assert await commands.record_late_result(session, command_id="cmd_1", result=late)
        assert not await commands.record_late_result(session, command_id="cmd_1", result=late)
        assert not await commands.record_late_result(session, command_id="nope", result=late)
    async with sessions() as session:
        row = await commands.get_command(session, command_id="cmd_1")
        assert row is not None
        kept = commands.status_of(row)
    assert kept.state == CommandState.TIMED_OUT
    assert kept.execution_seconds == 30
    assert kept.late_result == late
    assert kept.parameters == {"resolution": "1920x1080"}


async def test_queued_commands_are_found_by_device(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        await commands.save_command(session, status=status(CommandState.QUEUED), workflow_id="w")
        other = status(CommandState.SENT, command_id="cmd_2", sent_at=NOW)
        await commands.save_command(session, status=other, workflow_id="w")
    async with sessions() as session:
        found = await commands.queued_for_devices(session, device_ids=["cam-1", "cam-9"])
    assert found == [("cmd_1", "cam-1")]


async def test_presence_heartbeats_wills_and_silence(sessions: Sessions) -> None:
    await add_devices(sessions, "cam-1", "cam-2", "cam-3")
    beats = [
        Heartbeat(device_id="cam-1", at=NOW, usage={"cpu": "12%"}),
        Heartbeat(device_id="cam-2", at=NOW - timedelta(minutes=5), usage={}),
        Heartbeat(device_id="stranger", at=NOW, usage={}),  # unknown: ignored
    ]
    async with sessions() as session, session.begin():
        assert await presence.offline_among(session, device_ids=["cam-1", "cam-2", "x"]) == {
            "cam-1",
            "cam-2",
        }
        await presence.apply_heartbeats(session, beats=beats)
    async with sessions() as session, session.begin():
        assert await presence.offline_among(session, device_ids=["cam-1", "cam-2"]) == set()
        silent = await presence.sweep_silent(session, heard_before=NOW - timedelta(minutes=1))
        assert [d.device_id for d in silent] == ["cam-2"]
        left = await presence.mark_offline(session, device_ids=["cam-1", "cam-3"])
        assert [(d.device_id, d.node_name) for d in left] == [("cam-1", "cam-1-node")]
    async with sessions() as session:
        one = await presence.presence_of(session, device_id="cam-1")
        assert one is not None
        assert (one.online, one.node_name) == (False, "cam-1-node")
        assert await presence.presence_of(session, device_id="stranger") is None
        row = await devices.get_device(session, device_id="cam-1")
        assert row is not None
        assert row.presence_usage == {"cpu": "12%"}


async def test_job_selections_page_in_device_order(sessions: Sessions) -> None:
    await add_devices(sessions, *(f"cam-{n}" for n in range(1, 6)))
    await add_devices(sessions, "sensor-1", device_type="sensor")
    async with sessions() as session:
        count = device_selection.count_selected
        assert await count(session, device_type="camera", device_ids=None) == 5
        assert await count(session, device_type=None, device_ids=["cam-1", "x", "cam-1"]) == 1
        page = device_selection.select_page
        first = await page(session, device_type="camera", device_ids=None, after=None, limit=2)
        assert first == ["cam-1", "cam-2"]
        rest = await page(session, device_type="camera", device_ids=None, after="cam-2", limit=10)
        assert rest == ["cam-3", "cam-4", "cam-5"]
        listed = await page(
            session, device_type=None, device_ids=["sensor-1", "cam-4", "nope"], after="cam-1",
            limit=10,
        )  # fmt: skip
        assert listed == ["cam-4", "sensor-1"]
