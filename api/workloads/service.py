"""Workloads between the routes and Temporal: targets, rollout runs, removal.

Both contracts (`/api/v1/workloads`, `/api/kubeedge/apps`) come through here. Runs are
started by name (WORKLOAD_ROLLOUT_WORKFLOW, WORKLOAD_REMOVAL_WORKFLOW) with the inputs
of workflows.contracts.workloads. Rows a run reads are committed in their own transaction
before it starts (`sessions`), so a worker on another connection sees them; when a start
fails, that write is undone by a compensating one, so the store never keeps a rollout
that no run carries out.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.common import SearchAttributePair, WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError

from api.core.errors import ApiError, RunConflict, RunStillRunning
from api.core.links import temporal_ui_link
from api.core.runs import (
    PROGRESS_QUERY_TIMEOUT,
    RunStart,
    answer_within,
    is_not_found,
    start_or_attach,
    unavailable,
)
from store import workloads
from store.models import Rollout
from store.settings import Settings
from workflows.contracts import summaries
from workflows.contracts.common import STAGE, WORKLOAD_ID
from workflows.contracts.workloads import (
    ROLLOUT_ABORT_SIGNAL,
    ROLLOUT_PAUSE_SIGNAL,
    ROLLOUT_PROGRESS_QUERY,
    ROLLOUT_RESUME_SIGNAL,
    ROLLOUT_SUPERSEDE_SIGNAL,
    WORKLOAD_REMOVAL_WORKFLOW,
    WORKLOAD_ROLLOUT_WORKFLOW,
    RolloutInput,
    RolloutProgress,
    RolloutState,
    RolloutStrategy,
    WorkloadRemovalInput,
    WorkloadRemovalResult,
    WorkloadSpec,
    rollout_workflow_id,
    workload_removal_workflow_id,
)

Sessions = async_sessionmaker[AsyncSession]

# Bounds of a run, long enough for many slow gates; a rollout stuck longer needs a human.
ROLLOUT_EXECUTION_TIMEOUT = timedelta(days=7)
REMOVAL_EXECUTION_TIMEOUT = timedelta(hours=12)


def new_id() -> str:
    """Workload and rollout (deployment) ids: UUIDs, like the Edge API's node ids."""
    return str(uuid.uuid4())


def run_links(settings: Settings, workflow_id: str) -> dict[str, str]:
    return {"workflow_id": workflow_id, "temporal_ui_url": temporal_ui_link(settings, workflow_id)}


# --- targets ------------------------------------------------------------------------------


async def resolve_nodes(session: AsyncSession, *, refs: Sequence[str]) -> list[str]:
    """Node names for Edge API node ids or node names; 400 naming every unknown one."""
    found = await workloads.find_nodes(session, refs=refs)
    unknown = [ref for ref in dict.fromkeys(refs) if ref not in found]
    if unknown:
        raise ApiError(
            400,
            f"Unknown node{'s' if len(unknown) > 1 else ''}: {', '.join(unknown[:20])}",
            details={"unknown_nodes": unknown},
        )
    return list(dict.fromkeys(found[ref] for ref in refs))


async def resolve_devices(session: AsyncSession, *, device_ids: Sequence[str]) -> dict[str, str]:
    """device_id -> node name, in request order; 400 naming every unknown device."""
    found = await workloads.device_nodes(session, device_ids=device_ids)
    unknown = [device_id for device_id in dict.fromkeys(device_ids) if device_id not in found]
    if unknown:
        raise ApiError(
            400,
            f"Unknown device{'s' if len(unknown) > 1 else ''}: {', '.join(unknown[:20])}",
            details={"unknown_devices": unknown},
        )
    return {device_id: found[device_id] for device_id in dict.fromkeys(device_ids)}


# --- rollouts -----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RolloutRequest:
    """A rollout whose row is committed (state pending) and whose run is to start."""

    rollout_id: str
    workload_id: str
    revision: int
    spec: WorkloadSpec
    nodes: list[str]
    strategy: RolloutStrategy
    requested_by: str | None
    # What the workload's status goes back to if the run cannot start.
    status_before: str


async def launch(
    client: Client,
    *,
    settings: Settings,
    sessions: Sessions,
    request: RolloutRequest,
    superseding: Sequence[Rollout] = (),
) -> None:
    """Stop older running rollouts, then start this one's run.

    409 when a run of the same revision is already running; 503 when Temporal does not
    answer. Either way the pending row is marked failed and the status put back.
    """
    inp = RolloutInput(
        workload_id=request.workload_id,
        revision=request.revision,
        spec=request.spec,
        nodes=request.nodes,
        strategy=request.strategy,
        rollout_id=request.rollout_id,
        requested_by=request.requested_by,
    )
    run = RunStart(
        workflow=WORKLOAD_ROLLOUT_WORKFLOW,
        arg=inp,
        id=rollout_workflow_id(request.workload_id, request.revision),
        summary=summaries.rollout_summary(request.workload_id, request.revision, request.nodes),
        task_queue=settings.task_queue,
        result_type=RolloutProgress,
        # A revision rolls out once at a time; a finished run may be re-run (deploy).
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        search_attributes=[
            SearchAttributePair(WORKLOAD_ID, request.workload_id),
            SearchAttributePair(STAGE, RolloutState.PENDING.value),
        ],
        execution_timeout=ROLLOUT_EXECUTION_TIMEOUT,
    )
    try:
        for older in superseding:
            if older.revision != request.revision:
                await signal(client, older, ROLLOUT_SUPERSEDE_SIGNAL)  # takes no argument
        started = await start_or_attach(client, run)
    except RPCError as err:
        await _undo(sessions, request, f"the run could not start: {err.message}")
        raise unavailable(err) from err
    if started.refused:
        await _undo(sessions, request, "another run of this revision is already running")
        raise RunConflict(
            f"A rollout of revision {request.revision} is already running; "
            "pause, abort or wait for it",
            details=run_links(settings, run.id),
        )


async def _undo(sessions: Sessions, request: RolloutRequest, error: str) -> None:
    async with sessions() as session, session.begin():
        await workloads.fail_rollout(session, rollout_id=request.rollout_id, error=error)
        await workloads.set_status(
            session, workload_id=request.workload_id, status=request.status_before
        )


async def signal(client: Client, rollout: Rollout, name: str, arg: str | None = None) -> bool:
    """Send a signal to the rollout's run; False when no such run is running."""
    handle = client.get_workflow_handle(rollout.workflow_id)
    try:
        if arg is None:
            await handle.signal(name)
        else:
            await handle.signal(name, arg)
    except RPCError as err:
        if is_not_found(err):
            return False
        raise unavailable(err) from err
    return True


async def still_running(client: Client, rollout: Rollout) -> bool:
    """Whether the run behind a not-final row is really running.

    A row stays `pending` or `running` when its run never started (the API stopped
    between commit and start) or ended without recording (terminated, timed out): such
    a row is marked failed, so it no longer blocks a new rollout of its revision.
    """
    try:
        described = await client.get_workflow_handle(rollout.workflow_id).describe()
    except RPCError as err:
        if not is_not_found(err):
            raise unavailable(err) from err
        running = False
    else:
        running = described.status == WorkflowExecutionStatus.RUNNING
    return running


STEERING = {
    "pause": ROLLOUT_PAUSE_SIGNAL,
    "resume": ROLLOUT_RESUME_SIGNAL,
    "abort": ROLLOUT_ABORT_SIGNAL,
}


def stored_progress(rollout: Rollout) -> RolloutProgress | None:
    """What the run last recorded on its row."""
    return RolloutProgress.model_validate(rollout.progress) if rollout.progress else None


async def progress_of(client: Client | None, rollout: Rollout) -> RolloutProgress | None:
    """The run's own view while it runs; otherwise (or when it cannot be asked) the row's."""
    stored = stored_progress(rollout)
    if client is None or RolloutState(rollout.state).final:
        return stored
    handle = client.get_workflow_handle(rollout.workflow_id)
    try:
        live: RolloutProgress = await handle.query(
            ROLLOUT_PROGRESS_QUERY, result_type=RolloutProgress, rpc_timeout=PROGRESS_QUERY_TIMEOUT
        )
    except (RPCError, WorkflowFailureError):
        return stored  # the row is the record; the query only makes it fresher
    # The newest run under this id may be a later deploy of the same revision.
    return live if live.rollout_id == rollout.rollout_id else stored


async def outcome_within(
    client: Client, *, rollout: Rollout, seconds: float
) -> RolloutProgress | None:
    """The run's final progress if it ends within `seconds`; None while it goes on."""
    handle = client.get_workflow_handle(rollout.workflow_id, result_type=RolloutProgress)
    try:
        final: RolloutProgress = await answer_within(handle, seconds=seconds)
    except RunStillRunning:
        return None
    except WorkflowFailureError as err:
        raise ApiError(
            502,
            f"The rollout's run failed: {err.cause or err}",
            details={"deployment_id": rollout.rollout_id, "workflow_id": rollout.workflow_id},
        ) from err
    except RPCError as err:
        raise unavailable(err) from err
    return final


# --- removal ------------------------------------------------------------------------------


async def remove(
    client: Client, *, settings: Settings, inp: WorkloadRemovalInput, answer_timeout: float
) -> WorkloadRemovalResult | None:
    """Start (or attach to) the removal; its result, or None while it still runs."""
    run = RunStart(
        workflow=WORKLOAD_REMOVAL_WORKFLOW,
        arg=inp,
        id=workload_removal_workflow_id(inp.workload_id),
        summary=summaries.workload_removal_summary(inp.workload_id),
        task_queue=settings.task_queue,
        result_type=WorkloadRemovalResult,
        # A second DELETE while one runs lands on the same run.
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        search_attributes=[
            SearchAttributePair(WORKLOAD_ID, inp.workload_id),
            SearchAttributePair(STAGE, "removing"),
        ],
        execution_timeout=REMOVAL_EXECUTION_TIMEOUT,
    )
    try:
        started = await start_or_attach(client, run)
        result = await answer_within(started.handle, seconds=answer_timeout)
    except RunStillRunning:
        return None
    except WorkflowFailureError as err:
        raise ApiError(
            503,
            f"Removal of workload {inp.workload_id} failed: {err.cause or err}",
            details=run_links(settings, run.id),
        ) from err
    except RPCError as err:
        raise unavailable(err) from err
    return result
