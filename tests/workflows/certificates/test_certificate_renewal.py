"""CertificateRenewalWorkflow on the time-skipping server with stand-in activities."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.workflows.certificates.fake_certificate_activities import FakeCertificateActivities
from workflows.certificates.renewal import CertificateRenewalWorkflow
from workflows.contracts.certificates import (
    CertificateActivity,
    CertificateRenewalInput,
    RenewalProgress,
    RenewalStatus,
)
from workflows.contracts.common import RENEWAL_FAILED

ISSUE, RESTART, ROLLOUT, RESTORE, FORGET, RECORD = (
    CertificateActivity.ISSUE.value,
    CertificateActivity.RESTART.value,
    CertificateActivity.READ_ROLLOUT.value,
    CertificateActivity.RESTORE.value,
    CertificateActivity.FORGET_PREVIOUS.value,
    CertificateActivity.RECORD.value,
)


@pytest.fixture
def fakes() -> FakeCertificateActivities:
    return FakeCertificateActivities()


@pytest.fixture
async def task_queue(
    time_skipping_env: WorkflowEnvironment, fakes: FakeCertificateActivities
) -> AsyncIterator[str]:
    queue = f"certificates-{uuid.uuid4()}"
    async with Worker(
        time_skipping_env.client,
        task_queue=queue,
        workflows=[CertificateRenewalWorkflow],
        activities=fakes.activities(),
    ):
        yield queue


def renewal_input(timeout: float = 300) -> CertificateRenewalInput:
    return CertificateRenewalInput(
        namespace="kubeedge", requested_by="admin", rollout_timeout_seconds=timeout, poll_seconds=5
    )


async def renew(
    env: WorkflowEnvironment, queue: str, inp: CertificateRenewalInput
) -> RenewalProgress:
    return await env.client.execute_workflow(
        CertificateRenewalWorkflow.run,
        inp,
        id=f"certificate-renewal/{uuid.uuid4()}",
        task_queue=queue,
    )


async def failed_renewal(
    env: WorkflowEnvironment, queue: str, inp: CertificateRenewalInput
) -> RenewalProgress:
    with pytest.raises(WorkflowFailureError) as failure:
        await renew(env, queue, inp)
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == RENEWAL_FAILED
    return RenewalProgress.model_validate(cause.details[0])


async def test_a_renewal_restarts_cloudcore_then_drops_the_old_key_and_records(
    time_skipping_env: WorkflowEnvironment, task_queue: str, fakes: FakeCertificateActivities
) -> None:
    fakes.ready_after_polls = 3
    result = await renew(time_skipping_env, task_queue, renewal_input())
    assert result.status == RenewalStatus.SUCCEEDED
    assert (result.previous_serial, result.serial) == ("A1", "B1")
    assert fakes.calls == [ISSUE, RESTART, ROLLOUT, ROLLOUT, ROLLOUT, FORGET, RECORD]
    assert fakes.serial == "B1"
    assert fakes.previous is None
    assert fakes.records[0].progress.status == RenewalStatus.SUCCEEDED
    assert fakes.records[0].progress.requested_by == "admin"


async def test_cloudcore_not_ready_in_time_gets_the_old_certificate_back(
    time_skipping_env: WorkflowEnvironment, task_queue: str, fakes: FakeCertificateActivities
) -> None:
    fakes.ready_after_polls = None
    progress = await failed_renewal(time_skipping_env, task_queue, renewal_input(timeout=20))
    assert progress.status == RenewalStatus.RESTORED
    assert "not ready 20 s after the restart" in progress.message
    assert fakes.serial == "A1"  # the old certificate is what CloudCore will read
    assert fakes.calls[-2:] == [RESTORE, RECORD]
    assert FORGET not in fakes.calls
    assert fakes.records[0].progress.status == RenewalStatus.RESTORED


async def test_a_retried_issue_adopts_the_certificate_its_first_attempt_wrote(
    time_skipping_env: WorkflowEnvironment, task_queue: str, fakes: FakeCertificateActivities
) -> None:
    fakes.lose_first_issue_answer = True
    result = await renew(time_skipping_env, task_queue, renewal_input())
    assert fakes.calls[:2] == [ISSUE, ISSUE]
    assert fakes.issued == ["B1"]  # one renewal, one certificate
    assert result.serial == "B1"
    assert result.previous_serial == "A1"
    assert result.status == RenewalStatus.SUCCEEDED


async def test_a_failed_issue_changes_nothing_and_restarts_nothing(
    time_skipping_env: WorkflowEnvironment, task_queue: str, fakes: FakeCertificateActivities
) -> None:
    fakes.issue_refused = "no Secret kubeedge/casecret"
    progress = await failed_renewal(time_skipping_env, task_queue, renewal_input())
    assert progress.status == RenewalStatus.FAILED
    assert "no Secret kubeedge/casecret" in progress.message
    assert fakes.calls == [ISSUE, RECORD]
    assert fakes.serial == "A1"
