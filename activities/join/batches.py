"""Batch-join activities: page the device list, record and read results, cancel joins."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.service import RPCError, RPCStatusCode

from activities.webhooks.emitter import WebhookEmitter
from store import join as batches
from workflows.contracts.join import (
    DEVICE_JOIN_WORKFLOW,
    BatchActivity,
    BatchDeviceResult,
    BatchDeviceSpec,
    BatchPage,
    BatchResults,
    BatchStatus,
    CancelBatchJoinsInput,
    FinishBatchInput,
    LoadBatchPageInput,
    ReadBatchResultsInput,
    RecordBatchResultsInput,
    device_join_workflow_id,
)
from workflows.contracts.webhooks import WebhookEvent

# A batch that ends, however (cancelled too), is a batch_completed with its status.
FINISHED = (BatchStatus.COMPLETED, BatchStatus.CANCELLED)


class BatchActivities:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        webhooks: WebhookEmitter | None = None,
    ) -> None:
        self._sessions = sessions
        self._webhooks = webhooks  # batch_completed

    @activity.defn(name=BatchActivity.LOAD_BATCH_PAGE)
    async def load_batch_page(self, inp: LoadBatchPageInput) -> BatchPage:
        async with self._sessions() as session:
            rows = await batches.load_page(
                session, batch_id=inp.batch_id, after_position=inp.after_position, limit=inp.limit
            )
            if inp.after_position == 0:
                await batches.set_batch_status(session, batch_id=inp.batch_id, status="running")
                await session.commit()
        return BatchPage(
            devices=[
                BatchDeviceSpec(
                    position=row.position,
                    device_id=row.device_id,
                    node_name=row.node_name,
                    device_type=row.device_type,
                    location=row.location,
                    configuration=row.configuration,
                    fingerprint=row.fingerprint,
                )
                for row in rows
            ]
        )

    @activity.defn(name=BatchActivity.RECORD_BATCH_RESULTS)
    async def record_batch_results(self, inp: RecordBatchResultsInput) -> None:
        results = [
            {
                "device_id": r.device_id,
                "result": "success" if r.succeeded else "failed",
                "failed_step": r.failed_step,
                "error": r.error,
            }
            for r in inp.results
        ]
        async with self._sessions() as session, session.begin():
            await batches.record_results(session, batch_id=inp.batch_id, results=results)

    @activity.defn(name=BatchActivity.READ_BATCH_RESULTS)
    async def read_batch_results(self, inp: ReadBatchResultsInput) -> BatchResults:
        async with self._sessions() as session:
            rows = await batches.finished_results(
                session, batch_id=inp.batch_id, device_ids=inp.device_ids
            )
        return BatchResults(
            results=[
                BatchDeviceResult(
                    device_id=row.device_id,
                    succeeded=row.result == "success",
                    failed_step=row.failed_step,
                    error=row.error,
                )
                for row in rows
            ]
        )

    @activity.defn(name=BatchActivity.FINISH_BATCH)
    async def finish_batch(self, inp: FinishBatchInput) -> None:
        async with self._sessions() as session, session.begin():
            await batches.finish_batch(
                session,
                batch_id=inp.batch_id,
                status=inp.status.value,
                succeeded=inp.succeeded,
                failed=inp.failed,
            )
        if self._webhooks is not None and inp.status in FINISHED:
            data = {
                "batch_id": inp.batch_id,
                "status": inp.status.value,
                "succeeded": inp.succeeded,
                "failed": inp.failed,
            }
            await self._webhooks.emit(WebhookEvent.BATCH_COMPLETED, key=inp.batch_id, data=data)

    @activity.defn(name=BatchActivity.CANCEL_BATCH_JOINS)
    async def cancel_batch_joins(self, inp: CancelBatchJoinsInput) -> int:
        """Cancel every join this batch started and that still runs; each undoes itself.

        Joins are found by their BatchId search attribute, plus the ones still in flight
        by ID, since visibility may lag a just-started child.
        """
        client = activity.client()
        ids = {device_join_workflow_id(device_id) for device_id in inp.in_flight}
        # The batch carries the BatchId too: name the joins' type, or it cancels itself.
        query = (
            f"BatchId = '{inp.batch_id}' AND WorkflowType = '{DEVICE_JOIN_WORKFLOW}'"
            " AND ExecutionStatus = 'Running'"
        )
        async for execution in client.list_workflows(query):
            ids.add(execution.id)
        cancelled = 0
        for number, workflow_id in enumerate(sorted(ids)):
            try:
                await client.get_workflow_handle(workflow_id).cancel()
                cancelled += 1
            except RPCError as err:
                if err.status != RPCStatusCode.NOT_FOUND:
                    raise
            if number % 100 == 0:
                activity.heartbeat(number)
        activity.logger.info("batch %s: cancelled %d joins", inp.batch_id, cancelled)
        return cancelled
