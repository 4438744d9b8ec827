"""Store side of workload rollouts: the rollout row, the per-node rows, the workload's status.

Every write is idempotent, so a retried activity changes nothing more: the rollout row is
updated in place (created when missing, but never for a workload that no longer exists,
so a late record cannot resurrect a removed workload), node rows are upserts by
(workload, node), and the workload's status follows only the rollout of its newest
revision.
"""

from __future__ import annotations

from typing import Any, cast

from pydantic import ValidationError
from sqlalchemy import Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.webhooks.emitter import WebhookEmitter
from store.models import Rollout, Workload, WorkloadNode, WorkloadRevision
from workflows.contracts.webhooks import WebhookEvent
from workflows.contracts.workloads import (
    NodeRecord,
    RecordRolloutInput,
    RevisionRef,
    RolloutState,
    WorkloadActivity,
    WorkloadRef,
    WorkloadSpec,
)

# What a finished rollout leaves the workload's status at; superseded leaves it alone
# (the newer revision's rollout owns it).
FINAL_STATUS = {
    RolloutState.COMPLETED: "running",
    RolloutState.ROLLED_BACK: "rolled_back",
    RolloutState.FAILED: "failed",
}
CHUNK = 1000
FINAL_STATES = [state.value for state in RolloutState if state.final]
ROLLOUT_EVENTS = {
    RolloutState.COMPLETED: WebhookEvent.ROLLOUT_COMPLETED,
    RolloutState.ROLLED_BACK: WebhookEvent.ROLLOUT_ROLLED_BACK,
}


class WorkloadRecordActivities:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        webhooks: WebhookEmitter | None = None,
    ) -> None:
        self._sessions = sessions
        self._webhooks = webhooks  # rollout_completed, rollout_rolled_back

    @activity.defn(name=WorkloadActivity.RECORD_ROLLOUT)
    async def record_rollout(self, inp: RecordRolloutInput) -> None:
        progress = inp.progress
        async with self._sessions() as session, session.begin():
            workload = await session.get(Workload, progress.workload_id)
            if workload is None:
                activity.logger.info("Workload %s is gone; not recording", progress.workload_id)
                return
            row = await session.get(Rollout, progress.rollout_id)
            if row is None:  # the API creates it before starting us; this is only a safety net
                row = Rollout(
                    rollout_id=progress.rollout_id,
                    workload_id=progress.workload_id,
                    revision=progress.revision,
                    workflow_id=inp.workflow_id,
                    strategy={},
                    target_nodes=[],
                    requested_by=inp.requested_by,
                    started_at=progress.started_at,
                )
                session.add(row)
            row.state = progress.state.value
            row.progress = progress.model_dump(mode="json")
            row.error = progress.error or progress.abort_reason
            row.finished_at = progress.finished_at
            if inp.strategy is not None:
                row.strategy = inp.strategy.model_dump(mode="json")
            if inp.target_nodes is not None:
                row.target_nodes = list(inp.target_nodes)
            await _record_nodes(session, progress.workload_id, inp.nodes)
            status = FINAL_STATUS.get(progress.state)
            if status is not None and workload.revision == progress.revision:
                workload.status = status
                if progress.state is RolloutState.COMPLETED:
                    workload.deployed_revision = progress.revision
        event = ROLLOUT_EVENTS.get(progress.state)
        if self._webhooks is not None and event is not None:
            data = {
                "workload_id": progress.workload_id,
                "rollout_id": progress.rollout_id,
                "revision": progress.revision,
                "state": progress.state.value,
                "error": progress.error or progress.abort_reason,
            }
            await self._webhooks.emit(event, key=progress.rollout_id, data=data)

    @activity.defn(name=WorkloadActivity.LOAD_REVISION)
    async def load_revision(self, ref: RevisionRef) -> WorkloadSpec | None:
        async with self._sessions() as session:
            row = await session.get(WorkloadRevision, (ref.workload_id, ref.revision))
        if row is None:
            return None
        try:
            return WorkloadSpec.model_validate(row.spec)
        except ValidationError:
            activity.logger.warning(
                "Revision %s of %s holds an invalid spec", ref.revision, ref.workload_id
            )
            return None

    @activity.defn(name=WorkloadActivity.RUNNING_ROLLOUTS)
    async def running_rollouts(self, ref: WorkloadRef) -> list[str]:
        """Workflow IDs of the workload's rollouts that have not finished."""
        query = select(Rollout.workflow_id).where(
            Rollout.workload_id == ref.workload_id, Rollout.state.not_in(FINAL_STATES)
        )
        async with self._sessions() as session:
            return sorted(set((await session.scalars(query)).all()))

    @activity.defn(name=WorkloadActivity.DELETE_RECORDS)
    async def delete_records(self, ref: WorkloadRef) -> None:
        async with self._sessions() as session, session.begin():
            for model in (WorkloadNode, Rollout, WorkloadRevision, Workload):
                await session.execute(delete(model).where(model.workload_id == ref.workload_id))


async def _record_nodes(session: AsyncSession, workload_id: str, nodes: list[NodeRecord]) -> None:
    gone = [node.node_name for node in nodes if node.revision is None]
    if gone:
        await session.execute(
            delete(WorkloadNode).where(
                WorkloadNode.workload_id == workload_id, WorkloadNode.node_name.in_(gone)
            )
        )
    rows: list[dict[str, Any]] = [
        {
            "workload_id": workload_id,
            "node_name": node.node_name,
            "revision": node.revision,
            "state": node.state.value,
            "service_port": node.service_port,
        }
        for node in nodes
        if node.revision is not None
    ]
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    updated = ("revision", "state", "service_port", "updated_at")
    for start in range(0, len(rows), CHUNK):  # bound parameters per statement are limited
        stmt = insert(cast(Table, WorkloadNode.__table__)).values(rows[start : start + CHUNK])
        stmt = stmt.on_conflict_do_update(
            index_elements=["workload_id", "node_name"],
            set_={name: stmt.excluded[name] for name in updated},
        )
        await session.execute(stmt)
