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

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

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
from workflows.contracts.steps import failure_reason, run_put_back_step, run_step


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
            issued: IssuedCertificate = await run_step(issue_cloudcore_certificate, target)
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
            await run_step(restart_cloudcore, restart)
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
            state: CloudCoreRolloutState = await run_step(read_cloudcore_restart, restart)
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
            outcome: RestoreOutcome = await run_put_back_step(restore_cloudcore_certificate, target)
        except ActivityError as err:
            self._finish(RenewalStatus.FAILED, f"{reason}; restoring failed: {failure_reason(err)}")
            return
        status = RenewalStatus.RESTORED if outcome.restored else RenewalStatus.FAILED
        self._finish(status, f"{reason}; {outcome.message}")

    async def _forget_previous(self, target: RenewalTarget) -> None:
        # Only tidying: the renewal has succeeded whether or not the old key goes now.
        try:
            await run_step(forget_previous_certificate, target)
        except ActivityError as err:
            workflow.logger.warning(
                "could not drop the previous certificate: %s", failure_reason(err)
            )

    async def _record(self, target: RenewalTarget) -> None:
        record = RenewalRecord(
            namespace=target.namespace, renewal_id=target.renewal_id, progress=self._progress
        )
        try:
            await run_step(record_certificate_renewal, record)
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
