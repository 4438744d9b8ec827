"""Batch joins: the batch, its devices in order, and what happened to each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import Batch, BatchDevice, Device, utcnow

# Rows per INSERT: large enough to be quick, small enough for SQLite's variable limit.
_INSERT_CHUNK = 500


async def get_batch(session: AsyncSession, *, batch_id: str) -> Batch | None:
    return await session.get(Batch, batch_id)


async def create_batch(
    session: AsyncSession,
    *,
    batch_id: str,
    fingerprint: str,
    devices: Sequence[dict[str, Any]],
    created_by: str | None,
) -> Batch:
    """Insert the batch and its devices (positions from 1) in the caller's transaction."""
    batch = Batch(
        batch_id=batch_id,
        fingerprint=fingerprint,
        status="created",
        total=len(devices),
        succeeded=0,
        failed=0,
        created_by=created_by,
    )
    session.add(batch)
    await session.flush()
    rows = [
        {**device, "batch_id": batch_id, "position": index, "result": "pending"}
        for index, device in enumerate(devices, start=1)
    ]
    for start in range(0, len(rows), _INSERT_CHUNK):
        await session.execute(insert(BatchDevice), rows[start : start + _INSERT_CHUNK])
    return batch


async def set_batch_status(session: AsyncSession, *, batch_id: str, status: str) -> None:
    await session.execute(update(Batch).where(Batch.batch_id == batch_id).values(status=status))


async def load_page(
    session: AsyncSession, *, batch_id: str, after_position: int, limit: int
) -> Sequence[BatchDevice]:
    stmt = (
        select(BatchDevice)
        .where(BatchDevice.batch_id == batch_id, BatchDevice.position > after_position)
        .order_by(BatchDevice.position)
        .limit(limit)
    )
    return (await session.scalars(stmt)).all()


async def record_results(
    session: AsyncSession, *, batch_id: str, results: Sequence[dict[str, Any]]
) -> None:
    """Each result: device_id, result ("success"/"failed"), failed_step, error."""
    if not results:
        return
    stmt = (
        update(BatchDevice)
        .where(
            BatchDevice.batch_id == bindparam("b_batch_id"),
            BatchDevice.device_id == bindparam("b_device_id"),
        )
        .values(
            result=bindparam("b_result"),
            failed_step=bindparam("b_failed_step"),
            error=bindparam("b_error"),
        )
    )
    params = [
        {
            "b_batch_id": batch_id,
            "b_device_id": r["device_id"],
            "b_result": r["result"],
            "b_failed_step": r.get("failed_step"),
            "b_error": r.get("error"),
        }
        for r in results
    ]
    connection = await session.connection()
    await connection.execute(stmt, params)


async def finished_results(
    session: AsyncSession, *, batch_id: str, device_ids: Sequence[str]
) -> Sequence[BatchDevice]:
    """The rows of those devices whose result is recorded (no longer "pending")."""
    if not device_ids:
        return []
    stmt = select(BatchDevice).where(
        BatchDevice.batch_id == batch_id,
        BatchDevice.device_id.in_(device_ids),
        BatchDevice.result != "pending",
    )
    return (await session.scalars(stmt)).all()


async def finish_batch(
    session: AsyncSession, *, batch_id: str, status: str, succeeded: int, failed: int
) -> None:
    await session.execute(
        update(Batch)
        .where(Batch.batch_id == batch_id)
        .values(status=status, succeeded=succeeded, failed=failed, finished_at=utcnow())
    )


async def device_report(
    session: AsyncSession, *, batch_id: str, offset: int, limit: int
) -> Sequence[tuple[BatchDevice, str | None]]:
    """Each device of the batch with its inventory status (None once the row is gone)."""
    stmt = (
        select(BatchDevice, Device.status)
        .outerjoin(Device, Device.device_id == BatchDevice.device_id)
        .where(BatchDevice.batch_id == batch_id)
        .order_by(BatchDevice.position)
        .offset(offset)
        .limit(limit)
    )
    return [(row[0], row[1]) for row in (await session.execute(stmt)).all()]


async def join_states(session: AsyncSession, *, batch_id: str) -> dict[str, int]:
    """How the nodes of the batch's provisioned devices are doing: joined, pending, gone."""
    stmt = (
        select(Device.status, func.count())
        .select_from(BatchDevice)
        .outerjoin(Device, Device.device_id == BatchDevice.device_id)
        .where(and_(BatchDevice.batch_id == batch_id, BatchDevice.result == "success"))
        .group_by(Device.status)
    )
    counts: dict[str, int] = {"joined": 0, "pending": 0, "expired": 0}
    for status, count in (await session.execute(stmt)).all():
        key = "joined" if status == "joined" else "expired" if status is None else "pending"
        counts[key] += int(count)
    return counts
