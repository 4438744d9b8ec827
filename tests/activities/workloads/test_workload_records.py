"""WorkloadRecordActivities on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import ActivityEnvironment

from activities.workloads.records import WorkloadRecordActivities
from store.models import Rollout, Workload, WorkloadNode, WorkloadRevision
from workflows.contracts.workloads import (
    NodeOutcome,
    NodeRecord,
    RecordRolloutInput,
    RevisionRef,
    RolloutProgress,
    RolloutState,
    RolloutStrategy,
    WorkloadRef,
    WorkloadSpec,
    rollout_workflow_id,
)

env = ActivityEnvironment()
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SPEC = WorkloadSpec(name="web", namespace="apps", image="nginx:1.27")


async def _workload(
    sessions: async_sessionmaker[AsyncSession], *, revision: int = 2, with_rollout: bool = True
) -> tuple[str, str]:
    workload_id, rollout_id = str(uuid.uuid4()), str(uuid.uuid4())
    async with sessions() as session, session.begin():
        session.add(
            Workload(
                workload_id=workload_id,
                name=f"web-{workload_id[:8]}",
                namespace="apps",
                kind="deployment",
                source="v1",
                revision=revision,
                deployed_revision=1,
                status="deploying",
                target_nodes=[],
                created_by="alice",
            )
        )
        for number in range(1, revision + 1):
            spec = SPEC.model_copy(update={"image": f"nginx:1.{number}"})
            session.add(
                WorkloadRevision(
                    workload_id=workload_id, revision=number, spec=spec.model_dump(mode="json")
                )
            )
        if with_rollout:
            session.add(
                Rollout(
                    rollout_id=rollout_id,
                    workload_id=workload_id,
                    revision=revision,
                    workflow_id=rollout_workflow_id(workload_id, revision),
                    state=RolloutState.PENDING.value,
                    strategy={},
                    target_nodes=[],
                    requested_by="alice",
                )
            )
    return workload_id, rollout_id


def _progress(
    workload_id: str, rollout_id: str, state: RolloutState, **changes: object
) -> RolloutProgress:
    values: dict[str, object] = {
        "rollout_id": rollout_id,
        "workload_id": workload_id,
        "revision": 2,
        "state": state,
        "total_nodes": 3,
        "waves_total": 2,
        "started_at": T0,
        **changes,
    }
    return RolloutProgress.model_validate(values)


def _record(progress: RolloutProgress, **changes: object) -> RecordRolloutInput:
    values: dict[str, object] = {
        "workflow_id": rollout_workflow_id(progress.workload_id, progress.revision),
        "progress": progress,
        **changes,
    }
    return RecordRolloutInput.model_validate(values)


async def _nodes(
    sessions: async_sessionmaker[AsyncSession], workload_id: str
) -> dict[str, tuple[int, str, int | None]]:
    async with sessions() as session:
        rows = (
            await session.scalars(
                select(WorkloadNode).where(WorkloadNode.workload_id == workload_id)
            )
        ).all()
    return {row.node_name: (row.revision, row.state, row.service_port) for row in rows}


async def test_progress_and_node_rows_are_recorded_idempotently(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    records = WorkloadRecordActivities(sessions=sessions)
    workload_id, rollout_id = await _workload(sessions)
    strategy = RolloutStrategy(canary_nodes=1, wave_percent=50)
    running = _progress(workload_id, rollout_id, RolloutState.RUNNING, waves_done=1)
    nodes = [
        NodeRecord(node_name="edge-a", revision=2, state=NodeOutcome.READY, service_port=5001),
        NodeRecord(node_name="edge-b", revision=2, state=NodeOutcome.FAILED),
    ]
    inp = _record(
        running, strategy=strategy, target_nodes=["edge-a", "edge-b", "edge-c"], nodes=nodes
    )
    for _ in range(2):  # a retried activity changes nothing more
        await env.run(records.record_rollout, inp)
    async with sessions() as session:
        row = await session.get(Rollout, rollout_id)
        assert row is not None
        assert row.state == "running"
        assert row.strategy == strategy.model_dump(mode="json")
        assert row.target_nodes == ["edge-a", "edge-b", "edge-c"]
        assert row.progress is not None
        assert row.progress["waves_done"] == 1
        assert row.requested_by == "alice"
    assert await _nodes(sessions, workload_id) == {
        "edge-a": (2, "ready", 5001),
        "edge-b": (2, "failed", None),
    }

    # Rolled back: edge-a returns to revision 1, edge-b never ran the workload before.
    back = [
        NodeRecord(
            node_name="edge-a", revision=1, state=NodeOutcome.ROLLED_BACK, service_port=5001
        ),
        NodeRecord(node_name="edge-b", revision=None, state=NodeOutcome.ROLLED_BACK),
    ]
    done = _progress(
        workload_id,
        rollout_id,
        RolloutState.ROLLED_BACK,
        abort_reason="1 of 2 failed",
        finished_at=T0,
    )
    await env.run(records.record_rollout, _record(done, nodes=back))
    assert await _nodes(sessions, workload_id) == {"edge-a": (1, "rolled_back", 5001)}
    async with sessions() as session:
        row = await session.get(Rollout, rollout_id)
        workload = await session.get(Workload, workload_id)
    assert row is not None
    assert workload is not None
    assert (row.state, row.error) == ("rolled_back", "1 of 2 failed")
    assert row.finished_at is not None
    assert row.strategy == strategy.model_dump(mode="json")  # kept when not sent again
    assert (workload.status, workload.deployed_revision) == ("rolled_back", 1)


async def test_completion_sets_the_deployed_revision(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    records = WorkloadRecordActivities(sessions=sessions)
    workload_id, rollout_id = await _workload(sessions)
    done = _progress(workload_id, rollout_id, RolloutState.COMPLETED, finished_at=T0)
    await env.run(records.record_rollout, _record(done))
    async with sessions() as session:
        workload = await session.get(Workload, workload_id)
    assert workload is not None
    assert (workload.status, workload.deployed_revision) == ("running", 2)


async def test_an_older_revision_does_not_touch_the_workload_status(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    records = WorkloadRecordActivities(sessions=sessions)
    workload_id, rollout_id = await _workload(sessions, revision=3)
    old = _progress(workload_id, rollout_id, RolloutState.FAILED, revision=2, error="boom")
    await env.run(records.record_rollout, _record(old))
    async with sessions() as session:
        workload = await session.get(Workload, workload_id)
    assert workload is not None
    assert (workload.status, workload.deployed_revision) == ("deploying", 1)


async def test_a_missing_rollout_row_is_created_but_never_for_a_removed_workload(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    records = WorkloadRecordActivities(sessions=sessions)
    workload_id, _ = await _workload(sessions, with_rollout=False)
    rollout_id = str(uuid.uuid4())
    running = _progress(workload_id, rollout_id, RolloutState.RUNNING)
    await env.run(records.record_rollout, _record(running, requested_by="bob"))
    async with sessions() as session:
        row = await session.get(Rollout, rollout_id)
    assert row is not None
    assert (row.state, row.requested_by, row.revision) == ("running", "bob", 2)

    ghost = _progress(str(uuid.uuid4()), str(uuid.uuid4()), RolloutState.RUNNING)
    await env.run(records.record_rollout, _record(ghost))
    async with sessions() as session:
        assert await session.get(Rollout, ghost.rollout_id) is None


async def test_revisions_running_rollouts_and_deletion(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    records = WorkloadRecordActivities(sessions=sessions)
    workload_id, rollout_id = await _workload(sessions)
    spec = await env.run(records.load_revision, RevisionRef(workload_id=workload_id, revision=1))
    assert spec is not None
    assert spec.image == "nginx:1.1"
    assert (
        await env.run(records.load_revision, RevisionRef(workload_id=workload_id, revision=9))
        is None
    )

    ref = WorkloadRef(workload_id=workload_id)
    assert await env.run(records.running_rollouts, ref) == [rollout_workflow_id(workload_id, 2)]
    done = _progress(workload_id, rollout_id, RolloutState.SUPERSEDED, finished_at=T0)
    await env.run(records.record_rollout, _record(done))
    assert await env.run(records.running_rollouts, ref) == []

    node = NodeRecord(node_name="edge-a", revision=2, state=NodeOutcome.READY)
    await env.run(records.record_rollout, _record(done, nodes=[node]))
    for _ in range(2):
        await env.run(records.delete_records, ref)
    async with sessions() as session:
        for model in (Workload, WorkloadRevision, Rollout, WorkloadNode):
            count = await session.scalar(
                select(func.count()).select_from(model).where(model.workload_id == workload_id)
            )
            assert count == 0, model.__name__
