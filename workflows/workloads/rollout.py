"""WorkloadRolloutWorkflow: move a workload's target nodes to one revision, wave by wave.

Resolve the targets (explicit nodes, else the placement over Node labels) → read what each
runs now (its PriorObject) → cut waves (canary, then wave_percent / max_unavailable) →
per wave: apply (one activity for the whole wave), then a heartbeating health gate up to
`gate_timeout_seconds` → record progress. Once the failed share of the nodes applied so
far passes `abort_threshold_percent`, or on the abort signal, every applied wave is rolled
back to its PriorObjects in reverse order (a node without one loses the workload) and the
run says which nodes it rolled back. `supersede` (a newer revision is starting) stops
applying waves and ends without rolling back. Finished waves live in history, so a worker
restart resumes at the wave in flight and never re-applies finished ones.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, is_cancelled_exception
from temporalio.workflow import ActivityCancellationType, ActivityHandle

with workflow.unsafe.imports_passed_through():
    from workflows.contracts import summaries
    from workflows.contracts.common import STAGE, WORKLOAD_ID
    from workflows.contracts.workloads import (
        ROLLOUT_ABORT_SIGNAL,
        ROLLOUT_PAUSE_SIGNAL,
        ROLLOUT_PROGRESS_QUERY,
        ROLLOUT_RESUME_SIGNAL,
        ROLLOUT_SUPERSEDE_SIGNAL,
        WORKLOAD_ROLLOUT_WORKFLOW,
        ApplyWaveInput,
        GateInput,
        NodeOutcome,
        NodeRecord,
        NodeSetOutcome,
        PriorObjects,
        PriorsInput,
        RecordRolloutInput,
        RevisionRef,
        RollbackInput,
        RolloutInput,
        RolloutProgress,
        RolloutState,
        TargetsInput,
        Wave,
        WaveResult,
        WorkloadMode,
        apply_workload_wave,
        detect_workload_mode,
        gate_workload_wave,
        list_workload_targets,
        load_workload_revision,
        read_workload_priors,
        record_rollout,
        roll_back_workload_nodes,
    )
    from workflows.workloads.waves import cut_waves

STEP_TIMEOUT = timedelta(seconds=60)
RETRY = RetryPolicy(maximum_interval=timedelta(seconds=10), maximum_attempts=5)
# Rolling back matters more than giving up quickly: leaving a half-rolled-out fleet is worse.
ROLLBACK_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1), maximum_attempts=20)
RECORD_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30), maximum_attempts=0)
# The gate heartbeats every poll and apply/rollback after every node, each a few seconds at
# most: a worker that dies mid-wave is noticed, and the wave retried, within 20 s.
HEARTBEAT = timedelta(seconds=20)
NO_MATCH = "no node matches the placement"
# The final outcome is written to the store before the run reports it; runs started before
# this patch report it first, then write it.
RECORD_BEFORE_FINAL_PATCH = "rollout-records-before-final"

ArgT = TypeVar("ArgT")
ResultT = TypeVar("ResultT")


@workflow.defn(name=WORKLOAD_ROLLOUT_WORKFLOW)
class WorkloadRolloutWorkflow:
    @workflow.init
    def __init__(self, inp: RolloutInput) -> None:
        self._inp = inp
        self._progress = RolloutProgress(
            rollout_id=inp.rollout_id,
            workload_id=inp.workload_id,
            revision=inp.revision,
            state=RolloutState.RUNNING,
            total_nodes=len(inp.nodes),
            waves_total=0,
            started_at=workflow.now(),
        )
        self._paused = False
        self._abort_reason: str | None = None
        self._superseded = False
        self._gate: ActivityHandle[WaveResult] | None = None
        self._applied_nodes = 0
        self._finishing = False

    @workflow.run
    async def run(self, inp: RolloutInput) -> RolloutProgress:
        workflow.upsert_search_attributes(
            [WORKLOAD_ID.value_set(inp.workload_id), STAGE.value_set(self._progress.state.value)]
        )
        await self._record(strategy=True)
        mode = await workflow.execute_activity(
            detect_workload_mode,
            summary=summaries.activity_summary(detect_workload_mode, inp),
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=RETRY,
        )
        targets = list(inp.nodes)
        if not targets:
            placement = TargetsInput(placement=inp.spec.placement)
            targets = await _activity(list_workload_targets, placement)
        if not targets:
            return await self._finish(RolloutState.FAILED, error=NO_MATCH)
        priors = await self._priors(mode, targets)
        waves = cut_waves(targets, inp.strategy)
        self._set(total_nodes=len(targets), waves_total=len(waves))
        await self._record(target_nodes=targets)
        applied: list[Wave] = []
        for wave in waves:
            if not await self._ready_for(wave):
                break
            applied.append(wave)
            self._applied_nodes += len(wave.nodes)
            await self._run_wave(wave, mode, priors)
            if self._stopping:
                break
        if self._superseded:
            return await self._finish(RolloutState.SUPERSEDED)
        if self._abort_reason is not None:
            return await self._roll_back(applied, mode, priors)
        return await self._finish(RolloutState.COMPLETED)

    # --- steps -----------------------------------------------------------------------

    async def _priors(self, mode: WorkloadMode, targets: list[str]) -> PriorObjects:
        inp = self._inp
        priors: PriorObjects = await _activity(
            read_workload_priors,
            PriorsInput(workload_id=inp.workload_id, spec=inp.spec, mode=mode, nodes=targets),
        )
        # An object that does not carry its spec: the store still has every revision's.
        specs = dict(priors.specs)
        for revision in sorted(set(priors.revisions.values()) - set(specs)):
            ref = RevisionRef(workload_id=inp.workload_id, revision=revision)
            spec = await _activity(load_workload_revision, ref)
            if spec is not None:
                specs[revision] = spec
        return priors.model_copy(update={"specs": specs})

    async def _ready_for(self, wave: Wave) -> bool:
        """Wait out the interval between waves and any pause; False when told to stop."""
        interval = self._inp.strategy.wave_interval_seconds
        if wave.index > 0 and interval > 0 and not self._stopping:
            await _wait(lambda: self._stopping, seconds=interval)
        await workflow.wait_condition(lambda: not self._paused or self._stopping)
        return not self._stopping

    async def _run_wave(self, wave: Wave, mode: WorkloadMode, priors: PriorObjects) -> None:
        inp = self._inp
        self._set(current_wave=wave.index)
        applied: NodeSetOutcome = await _activity(
            apply_workload_wave,
            ApplyWaveInput(
                workload_id=inp.workload_id,
                revision=inp.revision,
                spec=inp.spec,
                mode=mode,
                nodes=wave.nodes,
            ),
            timeout=STEP_TIMEOUT + timedelta(seconds=2 * len(wave.nodes)),
            heartbeat=HEARTBEAT,
        )
        result = WaveResult(index=wave.index)
        if applied.done and not self._stopping:
            gated = await self._gate_wave(wave, applied.done)
            if gated is None:  # cancelled: aborted or superseded while waiting
                return
            result = gated
        failed = {**applied.failed, **result.failed}
        p = self._progress
        self._set(
            waves_done=p.waves_done + 1,
            nodes_ready=p.nodes_ready + len(result.ready),
            nodes_failed=p.nodes_failed + len(failed),
            failures={**p.failures, **failed},
        )
        records = [self._node(node, inp.revision, NodeOutcome.READY) for node in result.ready]
        for node in failed:
            # An apply that failed left the node on what it ran before, if anything.
            prior = priors.revisions.get(node) if node in applied.failed else None
            records.append(self._node(node, prior or inp.revision, NodeOutcome.FAILED))
        await self._record(nodes=records)
        self._check_threshold()

    async def _gate_wave(self, wave: Wave, nodes: list[str]) -> WaveResult | None:
        inp = self._inp
        timeout = timedelta(seconds=inp.strategy.gate_timeout_seconds)
        self._gate = workflow.start_activity(
            gate_workload_wave,
            GateInput(
                workload_id=inp.workload_id,
                revision=inp.revision,
                spec=inp.spec,
                index=wave.index,
                nodes=nodes,
                deadline=workflow.now() + timeout,
            ),
            summary=summaries.short(
                f"Gate wave {wave.index} of {inp.workload_id} rev {inp.revision}: "
                f"{len(nodes)} nodes"
            ),
            start_to_close_timeout=timeout + STEP_TIMEOUT,
            heartbeat_timeout=HEARTBEAT,
            retry_policy=RETRY,
            cancellation_type=ActivityCancellationType.TRY_CANCEL,
        )
        try:
            return await self._gate
        except ActivityError as err:
            if is_cancelled_exception(err):
                return None
            why = f"health gate failed: {err.cause or err}"
            return WaveResult(index=wave.index, failed=dict.fromkeys(nodes, why))
        finally:
            self._gate = None

    def _check_threshold(self) -> None:
        p, limit = self._progress, self._inp.strategy.abort_threshold_percent
        if self._abort_reason is not None or not p.nodes_failed or not self._applied_nodes:
            return
        share = 100.0 * p.nodes_failed / self._applied_nodes
        if share > limit:
            self._abort_reason = (
                f"{p.nodes_failed} of {self._applied_nodes} applied nodes failed "
                f"({share:.3g}%), above the abort threshold of {limit:g}%"
            )

    async def _roll_back(
        self, applied: list[Wave], mode: WorkloadMode, priors: PriorObjects
    ) -> RolloutProgress:
        self._set(state=RolloutState.ROLLING_BACK, current_wave=None)
        await self._record()
        problems: list[str] = []
        for wave in reversed(applied):
            self._set(current_wave=wave.index)
            try:
                outcome: NodeSetOutcome = await _activity(
                    roll_back_workload_nodes,
                    RollbackInput(
                        workload_id=self._inp.workload_id,
                        spec=self._inp.spec,
                        mode=mode,
                        priors=[priors.of(node) for node in wave.nodes],
                    ),
                    timeout=STEP_TIMEOUT + timedelta(seconds=2 * len(wave.nodes)),
                    heartbeat=HEARTBEAT,
                    retry=ROLLBACK_RETRY,
                )
            except ActivityError as err:
                problems.append(f"wave {wave.index}: {err.cause or err}")
                continue
            problems.extend(f"{node}: {why}" for node, why in outcome.failed.items())
            self._set(rolled_back=[*self._progress.rolled_back, *outcome.done])
            records = [
                self._node(node, priors.revisions.get(node), NodeOutcome.ROLLED_BACK)
                for node in outcome.done
            ]
            await self._record(nodes=records)
        if problems:
            error = f"rollback incomplete ({len(problems)} problems): " + "; ".join(problems[:20])
            return await self._finish(RolloutState.FAILED, error=error)
        return await self._finish(RolloutState.ROLLED_BACK)

    async def _finish(self, state: RolloutState, *, error: str | None = None) -> RolloutProgress:
        self._finishing = True
        final = {
            "state": state,
            "current_wave": None,
            "abort_reason": self._abort_reason,
            "error": error,
            "finished_at": workflow.now(),
        }
        if workflow.patched(RECORD_BEFORE_FINAL_PATCH):
            # A reader that sees the run final (its query) then finds the store final too:
            # the workload's status and deployed revision are written by then.
            await self._record(progress=self._progress.model_copy(update=final))
            self._set(**final)
        else:
            self._set(**final)
            await self._record()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._progress

    # --- messages --------------------------------------------------------------------

    @workflow.query(name=ROLLOUT_PROGRESS_QUERY)
    def progress(self) -> RolloutProgress:
        return self._progress

    @workflow.signal(name=ROLLOUT_PAUSE_SIGNAL)
    def pause(self) -> None:
        if self._progress.state is RolloutState.RUNNING and not self._stopping:
            self._paused = True
            self._set(state=RolloutState.PAUSED)

    @workflow.signal(name=ROLLOUT_RESUME_SIGNAL)
    def resume(self) -> None:
        if self._paused:
            self._paused = False
            if self._progress.state is RolloutState.PAUSED:
                self._set(state=RolloutState.RUNNING)

    @workflow.signal(name=ROLLOUT_ABORT_SIGNAL)
    def abort(self, reason: str | None = None) -> None:
        if self._stopping or self._progress.state is RolloutState.ROLLING_BACK or self._finishing:
            return
        self._abort_reason = reason or "aborted on request"
        self._stop_waiting()

    @workflow.signal(name=ROLLOUT_SUPERSEDE_SIGNAL)
    def supersede(self) -> None:
        if self._stopping or self._progress.state is RolloutState.ROLLING_BACK or self._finishing:
            return
        self._superseded = True
        self._stop_waiting()

    # --- state -----------------------------------------------------------------------

    @property
    def _stopping(self) -> bool:
        return self._abort_reason is not None or self._superseded

    def _stop_waiting(self) -> None:
        if self._paused:
            self._paused = False
            self._set(state=RolloutState.RUNNING)
        if self._gate is not None:
            self._gate.cancel()

    def _set(self, **changes: Any) -> None:
        before = self._progress.state
        self._progress = self._progress.model_copy(update=changes)
        # Shown on the run's page in the Temporal UI; not part of its history.
        workflow.set_current_details(summaries.rollout_details(self._progress))
        if self._progress.state != before:
            workflow.upsert_search_attributes([STAGE.value_set(self._progress.state.value)])

    def _node(self, node: str, revision: int | None, state: NodeOutcome) -> NodeRecord:
        port = next(
            (p.service_ports[node] for p in self._inp.spec.ports if node in p.service_ports), None
        )
        return NodeRecord(node_name=node, revision=revision, state=state, service_port=port)

    async def _record(
        self,
        *,
        strategy: bool = False,
        target_nodes: list[str] | None = None,
        nodes: list[NodeRecord] | None = None,
        progress: RolloutProgress | None = None,
    ) -> None:
        inp = self._inp
        record = RecordRolloutInput(
            workflow_id=workflow.info().workflow_id,
            progress=progress or self._progress,
            strategy=inp.strategy if strategy else None,
            target_nodes=target_nodes,
            nodes=nodes or [],
            requested_by=inp.requested_by,
        )
        await _activity(
            record_rollout,
            record,
            timeout=timedelta(seconds=30),
            retry=RECORD_RETRY,
        )


async def _wait(condition: Any, *, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await workflow.wait_condition(condition, timeout=seconds)


async def _activity(
    stub: Callable[[ArgT], Awaitable[ResultT]],
    arg: ArgT,
    *,
    timeout: timedelta = STEP_TIMEOUT,  # noqa: ASYNC109  # Temporal's, not asyncio's
    retry: RetryPolicy = RETRY,
    heartbeat: timedelta | None = None,
) -> ResultT:
    return await workflow.execute_activity(
        stub,
        arg,
        summary=summaries.activity_summary(stub, arg),
        start_to_close_timeout=timeout,
        heartbeat_timeout=heartbeat,
        retry_policy=retry,
    )
