"""Certificates edgewright can see, and CertificateRenewalWorkflow with its activities.

CloudCore keeps its CA and its own serving certificate in two Secrets of its namespace
(kubeedge `cloud/pkg/cloudhub/servers/httpserver/pre_server.go`): `casecret` with `cadata`
(certificate DER) and `cakeydata` (SEC1 EC key DER), `cloudcoresecret` with
`cloudcoredata` and `cloudcorekeydata`. CloudCore reads them at start, so a renewed
certificate takes effect when its pods restart.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import Field
from temporalio import activity

from workflows.contracts.cloudcore import CloudCoreRolloutState
from workflows.contracts.common import ContractModel, ShortText

CERTIFICATE_RENEWAL_WORKFLOW = "CertificateRenewalWorkflow"
RENEWAL_PROGRESS_QUERY = "renewal_progress"

CA_SECRET = "casecret"  # noqa: S105 (a Secret's name)
CA_CERT_KEY = "cadata"
CA_KEY_KEY = "cakeydata"
CLOUDCORE_SECRET = "cloudcoresecret"  # noqa: S105 (a Secret's name)
CLOUDCORE_CERT_KEY = "cloudcoredata"
CLOUDCORE_KEY_KEY = "cloudcorekeydata"
# What the Secret held before a renewal, kept beside it (CloudCore reads only its two
# keys) until the renewal is over: the compensation's source, never in workflow history.
PREVIOUS_PREFIX = "previous."
# On the renewed Secret: the renewal that wrote it, so a retried write adopts its own.
RENEWAL_ANNOTATION = "edgewright.io/certificate-renewal"
# The API's own TLS certificate, listed (as absent) because the API serves plain HTTP.
API_TLS = "api-tls"


def certificate_renewal_workflow_id(namespace: str, name: str) -> str:
    """One renewal per certificate at a time."""
    return f"certificate-renewal/{namespace}/{name}"


class CertificateActivity(StrEnum):
    """Activity names of CertificateRenewalWorkflow (stand-ins in tests use the same names)."""

    ISSUE = "issue_cloudcore_certificate"
    RESTART = "restart_cloudcore"
    READ_ROLLOUT = "read_cloudcore_restart"
    RESTORE = "restore_cloudcore_certificate"
    FORGET_PREVIOUS = "forget_previous_certificate"
    RECORD = "record_certificate_renewal"


class CertificateFacts(ContractModel):
    """The public part of one certificate, as parsed; never its key."""

    name: str
    secret: str | None
    subject: str
    issuer: str
    sans: list[str]
    serial: str  # hexadecimal, as openssl prints it
    not_before: datetime
    not_after: datetime


class RenewalTarget(ContractModel):
    namespace: str
    renewal_id: str  # the run's: names what it wrote into the Secret


class IssuedCertificate(ContractModel):
    previous_serial: str
    serial: str
    not_after: datetime
    adopted: bool = False  # a retry found what this renewal had already written


class RestartInput(ContractModel):
    namespace: str
    restarted_at: str  # the run's, so a retried patch writes the same template


class RestoreOutcome(ContractModel):
    restored: bool
    message: str


class RenewalStatus(StrEnum):
    ISSUING = "issuing"
    RESTARTING = "restarting"
    SUCCEEDED = "succeeded"
    RESTORING = "restoring"
    RESTORED = "restored"  # CloudCore did not get ready; the old certificate is back
    FAILED = "failed"  # and could not be restored


class CertificateRenewalInput(ContractModel):
    namespace: str
    name: Literal["cloudcoresecret"] = "cloudcoresecret"  # the only one renewed (never the CA)
    requested_by: ShortText
    rollout_timeout_seconds: float = Field(gt=0)
    poll_seconds: float = Field(default=2.0, gt=0)


class RenewalProgress(ContractModel):
    namespace: str
    name: str
    status: RenewalStatus
    message: str
    requested_by: str
    previous_serial: str | None = None
    serial: str | None = None
    not_after: datetime | None = None
    rollout: CloudCoreRolloutState | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


class RenewalRecord(ContractModel):
    """What a renewal did, for the record (and the certificates' snapshot)."""

    namespace: str
    renewal_id: str
    progress: RenewalProgress


# --- Activities the workflows call, as typed references ---
@activity.defn(name=CertificateActivity.ISSUE)
async def issue_cloudcore_certificate(inp: RenewalTarget) -> IssuedCertificate:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=CertificateActivity.RESTART)
async def restart_cloudcore(inp: RestartInput) -> None:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=CertificateActivity.READ_ROLLOUT)
async def read_cloudcore_restart(inp: RestartInput) -> CloudCoreRolloutState:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=CertificateActivity.RESTORE)
async def restore_cloudcore_certificate(inp: RenewalTarget) -> RestoreOutcome:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=CertificateActivity.FORGET_PREVIOUS)
async def forget_previous_certificate(inp: RenewalTarget) -> None:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=CertificateActivity.RECORD)
async def record_certificate_renewal(inp: RenewalRecord) -> None:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError
