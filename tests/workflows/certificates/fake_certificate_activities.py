"""Stand-ins for CertificateActivities, registered under the real activity names.

They keep CloudCore's Secret as the real ones would, in memory: the serial it serves, the
one kept beside it, and whose renewal wrote it, so a retried issue adopts what it wrote.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from workflows.contracts.certificates import (
    CertificateActivity,
    IssuedCertificate,
    RenewalRecord,
    RenewalTarget,
    RestartInput,
    RestoreOutcome,
)
from workflows.contracts.cloudcore import CloudCoreRolloutState


class FakeCertificateActivities:
    def __init__(self) -> None:
        self.serial = "A1"
        self.previous: str | None = None
        self.mark: str | None = None
        self.issued: list[str] = []  # every certificate ever made
        self.calls: list[str] = []
        self.records: list[RenewalRecord] = []
        self.restarts: list[str] = []
        self.ready_after_polls: int | None = 1  # None: never ready
        self.polls = 0
        self.lose_first_issue_answer = False  # the write lands, its answer does not
        self.issue_refused: str | None = None  # a final failure before anything is written

    def _enter(self, name: str) -> None:
        self.calls.append(name)

    def activities(self) -> list[Callable[..., Any]]:
        @activity.defn(name=CertificateActivity.ISSUE)
        async def issue(inp: RenewalTarget) -> IssuedCertificate:
            self._enter(CertificateActivity.ISSUE)
            if self.issue_refused is not None:
                raise ApplicationError(self.issue_refused, type="NotFound", non_retryable=True)
            not_after = datetime(2126, 1, 1, tzinfo=UTC)
            if self.mark == inp.renewal_id and self.previous is not None:
                return IssuedCertificate(
                    previous_serial=self.previous,
                    serial=self.serial,
                    not_after=not_after,
                    adopted=True,
                )
            new = f"B{len(self.issued) + 1}"
            self.issued.append(new)
            self.previous, self.serial, self.mark = self.serial, new, inp.renewal_id
            if self.lose_first_issue_answer and len(self.issued) == 1:
                raise ApplicationError("connection reset after the write", type="Unavailable")
            return IssuedCertificate(
                previous_serial=self.previous, serial=new, not_after=not_after + timedelta(days=1)
            )

        @activity.defn(name=CertificateActivity.RESTART)
        async def restart(inp: RestartInput) -> None:
            self._enter(CertificateActivity.RESTART)
            self.restarts.append(inp.restarted_at)

        @activity.defn(name=CertificateActivity.READ_ROLLOUT)
        async def rollout(inp: RestartInput) -> CloudCoreRolloutState:
            self._enter(CertificateActivity.READ_ROLLOUT)
            self.polls += 1
            done = self.ready_after_polls is not None and self.polls >= self.ready_after_polls
            return CloudCoreRolloutState(
                complete=done,
                message="rolled out" if done else "1 old replicas pending termination",
                desired=1,
                updated=1,
                available=1 if done else 0,
            )

        @activity.defn(name=CertificateActivity.RESTORE)
        async def restore(inp: RenewalTarget) -> RestoreOutcome:
            self._enter(CertificateActivity.RESTORE)
            if self.mark != inp.renewal_id or self.previous is None:
                return RestoreOutcome(restored=False, message="not ours")
            self.serial, self.previous, self.mark = (
                self.previous,
                None,
                f"restored/{inp.renewal_id}",
            )
            return RestoreOutcome(restored=True, message="previous certificate back")

        @activity.defn(name=CertificateActivity.FORGET_PREVIOUS)
        async def forget(inp: RenewalTarget) -> None:
            self._enter(CertificateActivity.FORGET_PREVIOUS)
            if self.mark == inp.renewal_id:
                self.previous = None

        @activity.defn(name=CertificateActivity.RECORD)
        async def record(inp: RenewalRecord) -> None:
            self._enter(CertificateActivity.RECORD)
            self.records.append(inp)

        return [issue, restart, rollout, restore, forget, record]
