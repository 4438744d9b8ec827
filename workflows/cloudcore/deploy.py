"""CloudCoreDeployWorkflow: create or update CloudCore, wait for the rollout, roll back.

read what is there [nothing to undo] → apply Deployment and Service → wait, bounded by
`rollout_timeout_seconds`, until the Deployment reports the new replicas updated and
available → record CloudCore's state for the API. If applying fails, the rollout reports
a failure (ProgressDeadlineExceeded) or the time runs out, what was there before is put
back (image, replicas, resources; a Deployment or Service this run created is deleted)
and the run fails with status `rolled_back`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.contracts.cloudcore import (
    CLOUDCORE_DEPLOY_WORKFLOW,
    DEPLOY_PROGRESS_QUERY,
    CloudCoreApplyInput,
    CloudCoreDeployInput,
    CloudCoreDeployProgress,
    CloudCoreRestoreInput,
    CloudCoreRolloutState,
    CloudCoreState,
    DeployStatus,
    apply_cloudcore,
    read_cloudcore,
    read_cloudcore_rollout,
    restore_cloudcore,
    snapshot_cloudcore,
)
from workflows.contracts.common import DEPLOY_FAILED, STAGE
from workflows.contracts.steps import failure_reason, run_put_back_step, run_step


@workflow.defn(name=CLOUDCORE_DEPLOY_WORKFLOW)
class CloudCoreDeployWorkflow:
    @workflow.init
    def __init__(self, inp: CloudCoreDeployInput) -> None:
        self._progress = CloudCoreDeployProgress(
            namespace=inp.target.namespace,
            version=inp.spec.version.removeprefix("v"),
            status=DeployStatus.APPLYING,
            message="reading the current CloudCore",
            fingerprint=inp.fingerprint,
            started_at=workflow.now(),
        )

    @workflow.run
    async def run(self, inp: CloudCoreDeployInput) -> CloudCoreDeployProgress:
        try:
            previous: CloudCoreState = await run_step(read_cloudcore, inp.target)
        except ActivityError as err:  # nothing changed yet: nothing to roll back
            self._finish(DeployStatus.FAILED, f"could not read CloudCore: {failure_reason(err)}")
            raise self._failure() from None
        self._update(created=not previous.deployment_existed)
        apply = CloudCoreApplyInput(target=inp.target, spec=inp.spec)
        try:
            self._update(message="applying the Deployment and Service")
            await run_step(apply_cloudcore, apply)
            self._update(status=DeployStatus.ROLLING_OUT, message="waiting for the rollout")
            rollout = await self._wait_for_rollout(inp, apply)
        except ActivityError as err:
            reason = f"applying failed: {failure_reason(err)}"
        else:
            if rollout.complete:
                await self._snapshot(inp)
                self._finish(DeployStatus.SUCCEEDED, "CloudCore deployed")
                return self._progress
            reason = rollout.message
        await self._roll_back(inp, previous, reason=reason)
        raise self._failure()

    @workflow.query(name=DEPLOY_PROGRESS_QUERY)
    def progress(self) -> CloudCoreDeployProgress:
        return self._progress

    async def _wait_for_rollout(
        self, inp: CloudCoreDeployInput, apply: CloudCoreApplyInput
    ) -> CloudCoreRolloutState:
        deadline = workflow.now() + timedelta(seconds=inp.rollout_timeout_seconds)
        while True:
            state: CloudCoreRolloutState = await run_step(read_cloudcore_rollout, apply)
            self._update(rollout=state, message=state.message)
            if state.complete or state.failed:
                return state
            remaining = (deadline - workflow.now()).total_seconds()
            if remaining <= 0:
                message = (
                    f"rollout not complete after {inp.rollout_timeout_seconds:g} s: {state.message}"
                )
                return state.model_copy(update={"failed": True, "message": message})
            await workflow.sleep(min(inp.poll_seconds, remaining))

    async def _roll_back(
        self, inp: CloudCoreDeployInput, previous: CloudCoreState, *, reason: str
    ) -> None:
        self._update(status=DeployStatus.ROLLING_BACK, message=f"{reason}; rolling back")
        restore = CloudCoreRestoreInput(target=inp.target, previous=previous)
        try:
            await run_put_back_step(restore_cloudcore, restore)
        except ActivityError as err:
            self._finish(DeployStatus.FAILED, f"{reason}; rollback failed: {failure_reason(err)}")
            return
        await self._snapshot(inp)
        self._finish(DeployStatus.ROLLED_BACK, f"{reason}; rolled back")

    async def _snapshot(self, inp: CloudCoreDeployInput) -> None:
        # Only for the status endpoint; the next node sync records it anyway.
        try:
            await run_step(snapshot_cloudcore, inp.target)
        except ActivityError as err:
            workflow.logger.warning("could not record CloudCore's state: %s", failure_reason(err))

    def _failure(self) -> ApplicationError:
        return ApplicationError(
            self._progress.message,
            self._progress.model_dump(mode="json"),
            type=DEPLOY_FAILED,
            non_retryable=True,
        )

    def _finish(self, status: DeployStatus, message: str) -> None:
        self._update(status=status, message=message, finished_at=workflow.now())

    def _update(self, **changes: Any) -> None:
        if "status" in changes:
            workflow.upsert_search_attributes([STAGE.value_set(changes["status"].value)])
        self._progress = self._progress.model_copy(update=changes)
