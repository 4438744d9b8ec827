"""Stand-ins for the rollout and removal workflows in API tests, registered under the real
names, in a module of their own so the workflow sandbox imports nothing else.

The rollout stand-in records through the activity `stub_record` (tests/api/
workload_fixtures.py) what the real one records, and behaves by image tag:
`:hold` waits for a signal, `:fail` ends rolled back with every node failed, anything
else completes with every node ready.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

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
    WorkloadRemovalInput,
    WorkloadRemovalResult,
)

RECORD = "stub_record"
FORGET = "stub_forget"
_QUICK = timedelta(seconds=30)


@workflow.defn(name=WORKLOAD_ROLLOUT_WORKFLOW)
class StubRollout:
    def __init__(self) -> None:
        self._progress: RolloutProgress | None = None
        self._paused = False
        self._stop: RolloutState | None = None

    @workflow.run
    async def run(self, inp: RolloutInput) -> RolloutProgress:
        self._progress = RolloutProgress(
            rollout_id=inp.rollout_id,
            workload_id=inp.workload_id,
            revision=inp.revision,
            state=RolloutState.RUNNING,
            total_nodes=len(inp.nodes),
            waves_total=1,
            started_at=workflow.now(),
        )
        await self._record([])
        if inp.spec.image.endswith(":hold"):
            await workflow.wait_condition(lambda: self._stop is not None)
            assert self._stop is not None
            return await self._finish(self._stop, inp)
        if inp.spec.image.endswith(":fail"):
            failures = dict.fromkeys(inp.nodes, "did not report ready")
            return await self._finish(RolloutState.ROLLED_BACK, inp, failures=failures)
        return await self._finish(RolloutState.COMPLETED, inp)

    async def _finish(
        self, state: RolloutState, inp: RolloutInput, *, failures: dict[str, str] | None = None
    ) -> RolloutProgress:
        assert self._progress is not None
        ready = inp.nodes if state is RolloutState.COMPLETED else []
        self._progress = self._progress.model_copy(
            update={
                "state": state,
                "waves_done": 1 if ready else 0,
                "nodes_ready": len(ready),
                "nodes_failed": len(failures or {}),
                "failures": failures or {},
                "finished_at": workflow.now(),
            }
        )
        await self._record(ready)
        return self._progress

    async def _record(self, ready: list[str]) -> None:
        assert self._progress is not None
        await workflow.execute_activity(
            RECORD, args=[self._progress, ready], start_to_close_timeout=_QUICK
        )

    @workflow.query(name=ROLLOUT_PROGRESS_QUERY)
    def progress(self) -> RolloutProgress:
        assert self._progress is not None
        return self._progress

    @workflow.signal(name=ROLLOUT_PAUSE_SIGNAL)
    def pause(self) -> None:
        self._set(RolloutState.PAUSED)

    @workflow.signal(name=ROLLOUT_RESUME_SIGNAL)
    def resume(self) -> None:
        self._set(RolloutState.RUNNING)

    @workflow.signal(name=ROLLOUT_ABORT_SIGNAL)
    def abort(self, reason: str | None = None) -> None:
        self._stop = RolloutState.ROLLED_BACK
        self._set(RolloutState.ROLLING_BACK, abort_reason=reason)

    @workflow.signal(name=ROLLOUT_SUPERSEDE_SIGNAL)
    def supersede(self) -> None:
        self._stop = RolloutState.SUPERSEDED

    def _set(self, state: RolloutState, **changes: object) -> None:
        if self._progress is not None:
            self._progress = self._progress.model_copy(update={"state": state, **changes})


@workflow.defn(name=WORKLOAD_REMOVAL_WORKFLOW)
class StubRemoval:
    @workflow.run
    async def run(self, inp: WorkloadRemovalInput) -> WorkloadRemovalResult:
        deleted: list[str] = await workflow.execute_activity(
            FORGET, inp.workload_id, start_to_close_timeout=_QUICK
        )
        return WorkloadRemovalResult(workload_id=inp.workload_id, objects_deleted=deleted)
