"""The report of a batch: the seed's `{total, success, failed, results}`, plus progress.

Counts come from the running workflow while it runs (its progress query) and from the
store once it is done; each device's node state (joined / pending / expired) comes from
the inventory, so the batch need not stay open while nodes register.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client
from temporalio.service import RPCError

from api.core.errors import ApiError
from api.core.pagination import PageParams, pagination
from api.core.runs import PROGRESS_QUERY_TIMEOUT
from store import join as batches
from store.models import BatchDevice
from workflows.contracts.join import BATCH_PROGRESS_QUERY, BatchProgress, batch_join_workflow_id


def _join_state(inventory_status: str | None) -> str:
    if inventory_status == "joined":
        return "joined"
    return "expired" if inventory_status is None else "pending"


def _result(row: BatchDevice, inventory_status: str | None) -> dict[str, Any]:
    if row.result == "success":
        return {
            "device": row.device_id,
            "status": "success",
            "details": {
                "node_name": row.node_name,
                "device_id": row.device_id,
                "join_state": _join_state(inventory_status),
            },
        }
    if row.result == "failed":
        return {
            "device": row.device_id,
            "status": "failed",
            "error": row.error,
            "failed_step": row.failed_step,
        }
    return {"device": row.device_id, "status": "pending"}


async def _live_progress(client: Client, batch_id: str) -> BatchProgress | None:
    handle = client.get_workflow_handle(batch_join_workflow_id(batch_id))
    try:
        progress: BatchProgress = await handle.query(
            BATCH_PROGRESS_QUERY, result_type=BatchProgress, rpc_timeout=PROGRESS_QUERY_TIMEOUT
        )
    except RPCError:
        return None  # not started yet, gone from the server, or unanswered: the store answers
    return progress


async def batch_report(
    session: AsyncSession,
    *,
    batch_id: str,
    offset: int,
    limit: int,
    page: PageParams | None = None,
    client: Client | None = None,
) -> dict[str, Any]:
    batch = await batches.get_batch(session, batch_id=batch_id)
    if batch is None:
        raise ApiError(404, f"No batch {batch_id}", details={"batch_id": batch_id})
    rows = await batches.device_report(session, batch_id=batch_id, offset=offset, limit=limit)
    status, succeeded, failed = batch.status, batch.succeeded, batch.failed
    progress = None
    if client is not None and batch.finished_at is None:
        progress = await _live_progress(client, batch_id)
        if progress is not None:
            status, succeeded, failed = progress.status.value, progress.succeeded, progress.failed
    report: dict[str, Any] = {
        "batch_id": batch_id,
        "status": status,
        "total": batch.total,
        "success": succeeded,
        "failed": failed,
        "pending": batch.total - succeeded - failed,
        "created_at": batch.created_at.isoformat(),
        "finished_at": batch.finished_at.isoformat() if batch.finished_at else None,
        "join_states": await batches.join_states(session, batch_id=batch_id),
        "results": [_result(row, inventory) for row, inventory in rows],
    }
    if progress is not None:
        report["progress"] = progress.model_dump(mode="json")
    if page is not None:
        report["pagination"] = pagination(page, total=batch.total).model_dump()
    return report
