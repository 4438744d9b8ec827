"""Commands sent to devices: one row per command, written by CommandWorkflow's activities.

Writes are upserts keyed by `command_id`, so a retried activity writes the same row
again. Once a row holds a final state nothing but a late result changes it: a retry
that arrives out of order cannot turn `completed` back into `sent`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Insert, Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import CommandRow, Device, utcnow
from store.upsert import insert_for
from workflows.contracts.commands import CommandState, CommandStatus, DeviceResult

FINAL_STATES = tuple(state.value for state in CommandState if state.final)
_MUTABLE = (
    "status",
    "success",
    "result",
    "error",
    "error_type",
    "answered",
    "sent_at",
    "completed_at",
    "updated_at",
)


async def save_command(session: AsyncSession, *, status: CommandStatus, workflow_id: str) -> bool:
    """Insert or update the row from a run's status; False when a final row was kept."""
    now = utcnow()
    result = status.result
    if status.answers:  # a broadcast's answers are kept with its summary
        answers = [answer.model_dump(mode="json") for answer in status.answers]
        result = {**(result if isinstance(result, dict) else {}), "answers": answers}
    values: dict[str, Any] = {
        "command_id": status.command_id,
        "device_id": status.device_id,
        "node_name": status.node_name,
        "device_type": status.device_type,
        "command": status.command,
        "parameters": status.parameters,
        "status": status.state.value,
        "origin": status.origin,
        "success": status.success,
        "result": result,
        "error": status.error,
        "error_type": status.error_type,
        "answered": status.answered,
        "timeout_seconds": status.timeout_seconds,
        "connect_timeout_seconds": status.connect_timeout_seconds,
        "requested_by": status.requested_by,
        "workflow_id": workflow_id,
        "queued_at": status.queued_at,
        "sent_at": status.sent_at,
        "completed_at": status.completed_at,
        "created_at": now,
        "updated_at": now,
    }
    result = await session.execute(_upsert(session.get_bind().dialect.name), values)
    return bool(result.rowcount)  # type: ignore[attr-defined]


@functools.cache
def _upsert(dialect: str) -> Insert:
    """The row's upsert, built once per dialect. Its values come as parameters, so it is
    the same statement every time and its compiled form is cached: built with the values
    at each write (two per command), it was 8 % of the worker's busy CPU under 50
    commands at once (py-spy during bench.command_latency)."""
    table = cast(Table, CommandRow.__table__)
    stmt = insert_for(dialect)(table)
    changes: dict[str, Any] = {name: stmt.excluded[name] for name in _MUTABLE}
    # A later write that does not know the node keeps the one already recorded.
    changes["node_name"] = func.coalesce(stmt.excluded.node_name, table.c.node_name)
    return stmt.on_conflict_do_update(
        index_elements=["command_id"],
        set_=changes,
        where=table.c.status.not_in(FINAL_STATES),
    )


async def get_command(session: AsyncSession, *, command_id: str) -> CommandRow | None:
    return await session.scalar(select(CommandRow).where(CommandRow.command_id == command_id))


# Broadcast types every device answers to (as simulator.device reads them too).
_ANY_TYPE = (None, "", "all")


async def answerable_by(session: AsyncSession, *, command_id: str, device_id: str) -> bool | None:
    """Whether `device_id` may answer `command_id`: its own command, or a broadcast to its
    type. None when no such command is recorded (every command is, before it is sent)."""
    found = (
        await session.execute(
            select(CommandRow.device_id, CommandRow.device_type).where(
                CommandRow.command_id == command_id
            )
        )
    ).first()
    if found is None:
        return None
    owner, wanted = found
    if owner is not None:
        return bool(owner == device_id)
    device = (
        await session.execute(select(Device.device_type).where(Device.device_id == device_id))
    ).first()
    return device is not None and (wanted in _ANY_TYPE or device[0] == wanted)


async def record_late_result(
    session: AsyncSession, *, command_id: str, result: DeviceResult
) -> bool:
    """Keep the first answer that came after the command ended; never touches `status`."""
    outcome = await session.execute(
        update(CommandRow)
        .where(
            CommandRow.command_id == command_id,
            CommandRow.status.in_(FINAL_STATES),
            CommandRow.late_result.is_(None),
        )
        .values(
            late_result=result.model_dump(mode="json"),
            late_result_at=result.received_at,
            updated_at=utcnow(),
        )
    )
    return bool(outcome.rowcount)  # type: ignore[attr-defined]


async def queued_for_devices(
    session: AsyncSession, *, device_ids: Sequence[str]
) -> list[tuple[str, str]]:
    """(command_id, device_id) of commands still waiting for one of these devices."""
    if not device_ids:
        return []
    rows = await session.execute(
        select(CommandRow.command_id, CommandRow.device_id).where(
            CommandRow.device_id.in_(device_ids),
            CommandRow.status == CommandState.QUEUED.value,
        )
    )
    return [(command_id, device_id) for command_id, device_id in rows if device_id]


async def commands_of_origin(session: AsyncSession, *, origin: str) -> Sequence[CommandRow]:
    stmt = select(CommandRow).where(CommandRow.origin == origin).order_by(CommandRow.command_id)
    return (await session.scalars(stmt)).all()


def status_of(row: CommandRow) -> CommandStatus:
    """The row as the status a run reports, so the API answers alike before and after."""
    late = DeviceResult.model_validate(row.late_result) if row.late_result else None
    result, answers = row.result, []
    if isinstance(result, dict) and "answers" in result:
        answers = [DeviceResult.model_validate(answer) for answer in result["answers"]]
        result = {key: value for key, value in result.items() if key != "answers"}
    return CommandStatus(
        command_id=row.command_id,
        device_id=row.device_id,
        node_name=row.node_name,
        device_type=row.device_type,
        command=row.command,
        parameters=row.parameters or {},
        state=CommandState(row.status),
        timeout_seconds=row.timeout_seconds,
        connect_timeout_seconds=row.connect_timeout_seconds,
        origin=row.origin,
        requested_by=row.requested_by,
        queued_at=row.queued_at,
        sent_at=row.sent_at,
        completed_at=row.completed_at,
        success=row.success,
        result=result,
        error=row.error,
        error_type=row.error_type,
        late_result=late,
        answers=answers,
        answered=row.answered,
    )
