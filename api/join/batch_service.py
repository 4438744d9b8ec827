"""Create a batch in the store and start (or find) its BatchJoinWorkflow.

The batch ID is the caller's, or derived from the request's content, so a retried POST
of the same file lands on the same batch and never joins a device twice.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from api.core.errors import ApiError
from api.core.runs import RunStart, request_fingerprint, start_or_attach
from api.join.batch_schemas import ParsedBatch
from api.join.service import join_fingerprint
from store import join as batches
from workflows.contracts import summaries
from workflows.contracts.common import BATCH_ID
from workflows.contracts.join import (
    BATCH_JOIN_WORKFLOW,
    BATCH_TASK_TIMEOUT,
    BatchJoinDefaults,
    BatchJoinInput,
    BatchProgress,
    batch_join_workflow_id,
)


def batch_identity(parsed: ParsedBatch) -> tuple[str, str]:
    """(batch_id, fingerprint) of a request."""
    content = {
        "devices": [d.model_dump(mode="json") for d in parsed.devices],
        "cloud_ip": parsed.options.cloud_ip,
        "token_expiry_hours": parsed.options.token_expiry_hours,
    }
    fingerprint = request_fingerprint(content)
    return parsed.options.batch_id or f"b-{fingerprint[:16]}", fingerprint


async def store_batch(
    session: AsyncSession,
    *,
    batch_id: str,
    fingerprint: str,
    parsed: ParsedBatch,
    created_by: str,
) -> bool:
    """Write the batch unless it exists; True when created. 409 when it differs."""
    existing = await batches.get_batch(session, batch_id=batch_id)
    if existing is not None:
        if existing.fingerprint != fingerprint:
            raise ApiError(
                409,
                f"batch {batch_id} already exists with other devices or options",
                details={"batch_id": batch_id},
            )
        return False
    await batches.create_batch(
        session,
        batch_id=batch_id,
        fingerprint=fingerprint,
        devices=batch_rows(parsed),
        created_by=created_by,
    )
    return True


def batch_rows(parsed: ParsedBatch) -> list[dict[str, Any]]:
    """The devices' rows, each with its join's fingerprint: the one a single join of the
    same device with the same options has, so a later POST /device/join finds its run."""
    options = parsed.options
    return [
        {
            **entry.model_dump(mode="json"),
            "fingerprint": join_fingerprint(
                entry, cloud_ip=options.cloud_ip, token_expiry_hours=options.token_expiry_hours
            ),
        }
        for entry in parsed.devices
    ]


async def start_batch(
    client: Client,
    *,
    batch_id: str,
    total: int,
    defaults: BatchJoinDefaults,
    max_concurrency: int,
    task_queue: str,
) -> WorkflowHandle[Any, BatchProgress]:
    """Start the batch's run, or return the one that exists (running or finished)."""
    inp = BatchJoinInput(
        batch_id=batch_id, total=total, defaults=defaults, max_concurrency=max_concurrency
    )
    run = RunStart(
        workflow=BATCH_JOIN_WORKFLOW,
        arg=inp,
        id=batch_join_workflow_id(batch_id),
        summary=summaries.batch_join_summary(batch_id, total),
        task_queue=task_queue,
        result_type=BatchProgress,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        # A finished batch is never run again: its devices were handled once.
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        search_attributes=[SearchAttributePair(BATCH_ID, batch_id)],
        task_timeout=BATCH_TASK_TIMEOUT,
    )
    return (await start_or_attach(client, run)).handle
