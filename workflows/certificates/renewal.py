"""CertificateRenewalWorkflow: a new CloudCore certificate, a restart, and the way back.

issue a new certificate from the CA into CloudCore's Secret (the old one kept beside it)
→ restart CloudCore (its Deployment's pod template annotation, as `kubectl rollout
restart`) → wait, bounded by `rollout_timeout_seconds`, for the rollout → drop the old
certificate → record. If the restart fails or CloudCore is not ready in time, the old
certificate and key are put back in the Secret [compensation] and the run fails with
status `restored`: the pods the restart started read it when they start again. Issuing
nothing (no CA, no Secret) fails with nothing to undo.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.contracts import summaries
from workflows.contracts.certificates import (
    CERTIFICATE_RENEWAL_WORKFLOW,
    RENEWAL_PROGRESS_QUERY,
    CertificateRenewalInput,
    IssuedCertificate,
    RenewalProgress,
    RenewalRecord,
    RenewalStatus,
    RenewalTarget,
    RestartInput,
    RestoreOutcome,
    forget_previous_certificate,
    issue_cloudcore_certificate,
    read_cloudcore_restart,
    record_certificate_renewal,
    restart_cloudcore,
    restore_cloudcore_certificate,
)
from workflows.contracts.cloudcore import CloudCoreRolloutState
from workflows.contracts.common import RENEWAL_FAILED, STAGE
from workflows.contracts.steps import failure_reason, run_step

STEP_TIMEOUT = timedelta(seconds=30)
FORWARD_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=10), maximum_attempts=5)
# Putting the old certificate back must not give up after a few tries.
RESTORE_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1), maximum_attempts=0)
RESTORE_PATIENCE = timedelta(hours=1)

ArgT = TypeVar("ArgT")
ResultT = TypeVar("ResultT")


@workflow.defn(name=CERTIFICATE_RENEWAL_WORKFLOW)
class CertificateRenewalWorkflow:
    @workflow.init
    def __init__(self, inp: CertificateRenewalInput) -> None:
        self._progress = RenewalProgress(
            namespace=inp.namespace,
            name=inp.name,
            status=RenewalStatus.ISSUING,
            message="issuing a new certificate from the CA",
            requested_by=inp.requested_by,
            started_at=workflow.now(),
        )

    @workflow.run
    async def run(self, inp: CertificateRenewalInput) -> RenewalProgress:
        target = RenewalTarget(namespace=inp.namespace, renewal_id=workflow.info().run_id)
        try:
            issued: IssuedCertificate = await _run(issue_cloudcore_certificate, target)
        except ActivityError as err:  # nothing written: nothing to undo
            self._finish(
                RenewalStatus.FAILED, f"could not issue a certificate: {failure_reason(err)}"
            )
            await self._record(target)
            raise self._failure() from None
        self._update(
            status=RenewalStatus.RESTARTING,
            message="restarting CloudCore",
            previous_serial=issued.previous_serial,
            serial=issued.serial,
            not_after=issued.not_after,
        )
        restart = RestartInput(namespace=inp.namespace, restarted_at=workflow.now().isoformat())
        try:
            await _run(restart_cloudcore, restart)
            rollout = await self._wait_for_rollout(inp, restart)
        except ActivityError as err:
            reason = f"restarting failed: {failure_reason(err)}"
        else:
            if rollout.complete:
                await self._forget_previous(target)
                self._finish(RenewalStatus.SUCCEEDED, "CloudCore serves the new certificate")
                await self._record(target)
                return self._progress
            reason = rollout.message
        await self._restore(target, reason=reason)
        await self._record(target)
        raise self._failure()

    @workflow.query(name=RENEWAL_PROGRESS_QUERY)
    def progress(self) -> RenewalProgress:
        return self._progress

    async def _wait_for_rollout(
        self, inp: CertificateRenewalInput, restart: RestartInput
    ) -> CloudCoreRolloutState:
        deadline = workflow.now() + timedelta(seconds=inp.rollout_timeout_seconds)
        while True:
            state: CloudCoreRolloutState = await _run(read_cloudcore_restart, restart)
            self._update(rollout=state, message=state.message)
            if state.complete or state.failed:
                return state
            remaining = (deadline - workflow.now()).total_seconds()
            if remaining <= 0:
                message = (
                    f"CloudCore not ready {inp.rollout_timeout_seconds:g} s after the restart: "
                    f"{state.message}"
                )
                return state.model_copy(update={"failed": True, "message": message})
            await workflow.sleep(min(inp.poll_seconds, remaining))

    async def _restore(self, target: RenewalTarget, *, reason: str) -> None:
        self._update(status=RenewalStatus.RESTORING, message=f"{reason}; restoring")
        try:
            outcome: RestoreOutcome = await workflow.execute_activity(
                restore_cloudcore_certificate,
                target,
                summary=summaries.activity_summary(restore_cloudcore_certificate, target),
                start_to_close_timeout=STEP_TIMEOUT,
                schedule_to_close_timeout=RESTORE_PATIENCE,
                retry_policy=RESTORE_RETRY,
            )
        except ActivityError as err:
            self._finish(RenewalStatus.FAILED, f"{reason}; restoring failed: {failure_reason(err)}")
            return
        status = RenewalStatus.RESTORED if outcome.restored else RenewalStatus.FAILED
        self._finish(status, f"{reason}; {outcome.message}")

    async def _forget_previous(self, target: RenewalTarget) -> None:
        # Only tidying: the renewal has succeeded whether or not the old key goes now.
        try:
            await _run(forget_previous_certificate, target)
        except ActivityError as err:
            workflow.logger.warning(
                "could not drop the previous certificate: %s", failure_reason(err)
            )

    async def _record(self, target: RenewalTarget) -> None:
        record = RenewalRecord(
            namespace=target.namespace, renewal_id=target.renewal_id, progress=self._progress
        )
        try:
            await _run(record_certificate_renewal, record)
        except ActivityError as err:
            workflow.logger.warning("could not record the renewal: %s", failure_reason(err))

    def _failure(self) -> ApplicationError:
        return ApplicationError(
            self._progress.message,
            self._progress.model_dump(mode="json"),
            type=RENEWAL_FAILED,
            non_retryable=True,
        )

    def _finish(self, status: RenewalStatus, message: str) -> None:
        self._update(status=status, message=message, finished_at=workflow.now())

    def _update(self, **changes: Any) -> None:
        if "status" in changes:
            workflow.upsert_search_attributes([STAGE.value_set(changes["status"].value)])
        self._progress = self._progress.model_copy(update=changes)


async def _run(stub: Callable[[ArgT], Awaitable[ResultT]], arg: ArgT) -> ResultT:
    return await run_step(stub, arg, step_timeout=STEP_TIMEOUT, retry=FORWARD_RETRY)
