"""Workloads, their revisions, rollouts and where they run.

The API writes definitions, revisions and the pending row of each rollout; the rollout
activities write the rest (rollout state and progress, `workload_nodes`, the workload's
status and deployed revision). Every function works in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from store.models import Device, Rollout, Workload, WorkloadNode, WorkloadRevision, utcnow
from workflows.contracts.workloads import (
    NodeOutcome,
    RolloutState,
    RolloutStrategy,
    WorkloadSpec,
    rollout_workflow_id,
)

CREATED = "created"
DEPLOYING = "deploying"
RUNNING = "running"
UPDATING = "updating"
FAILED = "failed"
ROLLED_BACK = "rolled_back"
DELETING = "deleting"

# Nodes in these states run (or are starting) one of the workload's revisions: a rolled
# back row names the earlier revision put back (a node left with nothing has no row).
_ON_NODE = (NodeOutcome.APPLIED.value, NodeOutcome.READY.value, NodeOutcome.ROLLED_BACK.value)
_FINAL = tuple(state.value for state in RolloutState if state.final)
# Names per IN (...) list: well below SQLite's bound-variable limit.
_CHUNK = 500


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    unique = list(dict.fromkeys(items))
    for start in range(0, len(unique), _CHUNK):
        yield unique[start : start + _CHUNK]


async def get_workload(session: AsyncSession, *, workload_id: str) -> Workload | None:
    return await session.get(Workload, workload_id)


async def get_by_name(session: AsyncSession, *, namespace: str, name: str) -> Workload | None:
    stmt = select(Workload).where(Workload.namespace == namespace, Workload.name == name)
    return (await session.scalars(stmt)).first()


async def create_workload(
    session: AsyncSession,
    *,
    workload_id: str,
    spec: WorkloadSpec,
    source: str,
    created_by: str | None,
) -> Workload:
    """The workload and its revision 1, status `created`."""
    row = Workload(
        workload_id=workload_id,
        name=spec.name,
        namespace=spec.namespace,
        kind=spec.kind.value,
        source=source,
        revision=1,
        deployed_revision=None,
        status=CREATED,
        target_nodes=[],
        created_by=created_by,
    )
    session.add(row)
    session.add(
        WorkloadRevision(workload_id=workload_id, revision=1, spec=spec.model_dump(mode="json"))
    )
    await session.flush()
    return row


async def list_workloads(
    session: AsyncSession, *, offset: int, limit: int, source: str | None = None
) -> tuple[Sequence[Workload], int]:
    """One page, oldest first (a stable order while rows are added), and the total."""
    stmt = select(Workload)
    count = select(func.count()).select_from(Workload)
    if source is not None:
        stmt = stmt.where(Workload.source == source)
        count = count.where(Workload.source == source)
    stmt = stmt.order_by(Workload.created_at, Workload.workload_id).offset(offset).limit(limit)
    rows = (await session.scalars(stmt)).all()
    return rows, int((await session.execute(count)).scalar_one())


async def get_spec(session: AsyncSession, *, workload_id: str, revision: int) -> WorkloadSpec:
    row = await session.get(WorkloadRevision, (workload_id, revision))
    if row is None:
        raise LookupError(f"workload {workload_id} has no revision {revision}")
    return WorkloadSpec.model_validate(row.spec)


async def get_specs(
    session: AsyncSession, *, keys: Sequence[tuple[str, int]]
) -> dict[tuple[str, int], WorkloadSpec]:
    """The specs of many (workload_id, revision) at once: a list of apps in a few queries."""
    wanted = sorted(set(keys))
    found: dict[tuple[str, int], WorkloadSpec] = {}
    for start in range(0, len(wanted), _CHUNK):
        key = tuple_(WorkloadRevision.workload_id, WorkloadRevision.revision)
        rows = await session.scalars(
            select(WorkloadRevision).where(key.in_(wanted[start : start + _CHUNK]))
        )
        for row in rows:
            found[(row.workload_id, row.revision)] = WorkloadSpec.model_validate(row.spec)
    missing = set(wanted) - found.keys()
    if missing:
        raise LookupError(f"missing workload revisions: {sorted(missing)[:5]}")
    return found


async def add_revision(session: AsyncSession, *, workload: Workload, spec: WorkloadSpec) -> int:
    """Store `spec` as the workload's next revision and return its number."""
    revision = workload.revision + 1
    session.add(
        WorkloadRevision(
            workload_id=workload.workload_id, revision=revision, spec=spec.model_dump(mode="json")
        )
    )
    workload.revision = revision
    workload.kind = spec.kind.value
    workload.updated_at = utcnow()
    await session.flush()
    return revision


async def set_status(
    session: AsyncSession,
    *,
    workload_id: str,
    status: str,
    target_nodes: list[str] | None = None,
) -> None:
    values: dict[str, Any] = {"status": status, "updated_at": utcnow()}
    if target_nodes is not None:
        values["target_nodes"] = target_nodes
    await session.execute(
        update(Workload).where(Workload.workload_id == workload_id).values(**values)
    )


# --- rollouts -----------------------------------------------------------------------------


async def create_rollout(
    session: AsyncSession,
    *,
    rollout_id: str,
    workload_id: str,
    revision: int,
    strategy: RolloutStrategy,
    target_nodes: list[str],
    requested_by: str | None,
) -> Rollout:
    """The rollout's row, state `pending`, written before its run starts."""
    row = Rollout(
        rollout_id=rollout_id,
        workload_id=workload_id,
        revision=revision,
        workflow_id=rollout_workflow_id(workload_id, revision),
        state=RolloutState.PENDING.value,
        strategy=strategy.model_dump(mode="json"),
        target_nodes=target_nodes,
        progress=None,
        error=None,
        requested_by=requested_by,
        finished_at=None,
    )
    session.add(row)
    await session.flush()
    return row


async def get_rollout(
    session: AsyncSession, *, workload_id: str, rollout_id: str
) -> Rollout | None:
    row = await session.get(Rollout, rollout_id)
    return row if row is not None and row.workload_id == workload_id else None


async def fail_rollout(session: AsyncSession, *, rollout_id: str, error: str) -> None:
    """A run that never started: final, with why."""
    await session.execute(
        update(Rollout)
        .where(Rollout.rollout_id == rollout_id)
        .values(state=RolloutState.FAILED.value, error=error, finished_at=utcnow())
    )


async def latest_rollouts(
    session: AsyncSession, *, workload_ids: Sequence[str]
) -> dict[str, Rollout]:
    """Each workload's newest rollout (newest revision, then newest start)."""
    newest: dict[str, Rollout] = {}
    for chunk in _chunks(workload_ids):
        stmt = (
            select(Rollout)
            .where(Rollout.workload_id.in_(chunk))
            .order_by(Rollout.workload_id, Rollout.revision.desc(), Rollout.started_at.desc())
        )
        for row in (await session.scalars(stmt)).all():
            newest.setdefault(row.workload_id, row)
    return newest


async def latest_rollout(session: AsyncSession, *, workload_id: str) -> Rollout | None:
    return (await latest_rollouts(session, workload_ids=[workload_id])).get(workload_id)


async def running_rollouts(session: AsyncSession, *, workload_id: str) -> Sequence[Rollout]:
    """Rollouts of the workload that have not reached a final state, oldest first."""
    stmt = (
        select(Rollout)
        .where(Rollout.workload_id == workload_id, Rollout.state.not_in(_FINAL))
        .order_by(Rollout.revision, Rollout.started_at)
    )
    return (await session.scalars(stmt)).all()


# --- where a workload runs ----------------------------------------------------------------


async def workload_nodes(
    session: AsyncSession, *, workload_ids: Sequence[str]
) -> dict[str, list[WorkloadNode]]:
    """Every node row of each workload, by node name."""
    found: dict[str, list[WorkloadNode]] = {workload_id: [] for workload_id in workload_ids}
    for chunk in _chunks(workload_ids):
        stmt = (
            select(WorkloadNode)
            .where(WorkloadNode.workload_id.in_(chunk))
            .order_by(WorkloadNode.workload_id, WorkloadNode.node_name)
        )
        for row in (await session.scalars(stmt)).all():
            found[row.workload_id].append(row)
    return found


def runs_on(rows: Iterable[WorkloadNode]) -> list[str]:
    """The node names where one of the workload's revisions is applied or ready."""
    return [row.node_name for row in rows if row.state in _ON_NODE]


async def node_ids(session: AsyncSession, *, node_names: Sequence[str]) -> dict[str, str]:
    """node name -> the Edge API's node id, for the names in the inventory."""
    return await _lookup(session, Device.node_name, Device.node_id, items=node_names)


async def allocate_service_ports(
    session: AsyncSession,
    *,
    workload_id: str,
    revision: int,
    node_names: Sequence[str],
    first_port: int,
    last_port: int,
) -> dict[str, int]:
    """A Service port per node, stable for the workload and unique on each node.

    A node that already has a port for this workload keeps it; a new one gets the lowest
    port in [first_port, last_port] no other workload uses on that node. The port is kept
    in the node's `workload_nodes` row (state `pending` until a rollout reaches it), so
    it survives revisions. Raises ValueError when a node has no port left.
    """
    if not node_names:
        return {}
    ours: dict[str, int] = {}
    taken: dict[str, set[int]] = {name: set() for name in node_names}
    rows: list[WorkloadNode] = []
    for chunk in _chunks(node_names):
        stmt = select(WorkloadNode).where(WorkloadNode.node_name.in_(chunk))
        rows.extend((await session.scalars(stmt)).all())
    for row in rows:
        if row.service_port is None:
            continue
        if row.workload_id == workload_id:
            ours[row.node_name] = row.service_port
        else:
            taken[row.node_name].add(row.service_port)
    ports: dict[str, int] = {}
    for name in node_names:
        if name in ours:
            ports[name] = ours[name]
            continue
        port = next((p for p in range(first_port, last_port + 1) if p not in taken[name]), None)
        if port is None:
            raise ValueError(f"node {name} has no free service port in {first_port}-{last_port}")
        ports[name] = port
        existing = await session.get(WorkloadNode, (workload_id, name))
        if existing is not None:
            existing.service_port = port
        else:
            session.add(
                WorkloadNode(
                    workload_id=workload_id,
                    node_name=name,
                    revision=revision,
                    state=NodeOutcome.PENDING.value,
                    service_port=port,
                )
            )
    await session.flush()
    return ports


async def find_nodes(session: AsyncSession, *, refs: Sequence[str]) -> dict[str, str]:
    """ref -> node name, for refs that are an inventory node's id or name."""
    found: dict[str, str] = {}
    for chunk in _chunks(refs):
        stmt = select(Device.node_id, Device.node_name).where(
            or_(Device.node_id.in_(chunk), Device.node_name.in_(chunk))
        )
        for node_id, node_name in (await session.execute(stmt)).all():
            found[node_id] = node_name
            found[node_name] = node_name
    return {ref: found[ref] for ref in refs if ref in found}


async def device_nodes(session: AsyncSession, *, device_ids: Sequence[str]) -> dict[str, str]:
    """device_id -> node name, for the devices in the inventory."""
    return await _lookup(session, Device.device_id, Device.node_name, items=device_ids)


async def node_devices(session: AsyncSession, *, node_names: Sequence[str]) -> dict[str, str]:
    """node name -> device_id, for the nodes in the inventory."""
    return await _lookup(session, Device.node_name, Device.device_id, items=node_names)


async def _lookup(
    session: AsyncSession,
    key: InstrumentedAttribute[str],
    value: InstrumentedAttribute[str],
    *,
    items: Sequence[str],
) -> dict[str, str]:
    """key -> value over the devices whose `key` is one of `items`."""
    found: dict[str, str] = {}
    for chunk in _chunks(items):
        rows = (await session.execute(select(key, value).where(key.in_(chunk)))).all()
        found.update((row[0], row[1]) for row in rows)
    return found
