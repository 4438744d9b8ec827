"""Bodies of the certificates endpoints: the list, a renewal request and its answers."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from workflows.contracts.certificates import RenewalProgress

# A Secret's name (DNS-1123 subdomain) or our `api-tls`. pydantic's (Rust) regex `$` is the
# very end: no trailing newline slips through.
CertificateName = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
]


class CertificateStatus(StrEnum):
    OK = "ok"
    EXPIRING = "expiring"  # within the warning threshold of its end
    EXPIRED = "expired"
    ABSENT = "absent"  # not there, or not readable as a certificate (`reason` says)


class Certificate(BaseModel):
    name: str = Field(examples=["cloudcoresecret"])
    secret: str | None = Field(description="The Secret in the KubeEdge namespace that holds it")
    status: CertificateStatus
    subject: str | None = Field(examples=["O=KubeEdge,CN=KubeEdge"])
    sans: list[str] = Field(examples=[["IP:127.0.0.1", "DNS:cloudcore.kubeedge.svc"]])
    issuer: str | None
    serial: str | None = Field(description="Hexadecimal, as openssl prints it")
    not_before: datetime | None
    not_after: datetime | None
    days_left: int | None = Field(description="Whole days until not_after; negative once past")
    renewable: bool = Field(description="POST .../renew accepts this name")
    reason: str | None = Field(default=None, description="Why an absent certificate is absent")


class CertificateList(BaseModel):
    certificates: list[Certificate]
    expiring_within_days: int = Field(description="The threshold of `expiring`")
    observed_at: datetime | None = Field(
        description="When the worker last read CloudCore's Secrets; null: not yet"
    )


class RenewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: CertificateName = Field(examples=["cloudcoresecret"])


class RenewalAnswer(BaseModel):
    status: str = Field(
        description='"accepted" (202); on the status URL "in_progress", "success" or "failed"'
    )
    message: str
    name: str
    run_id: str
    status_url: str = Field(description="Where this renewal tells how it goes")
    workflow_id: str
    temporal_ui_url: str
    renewal: RenewalProgress | None = Field(
        description="What the run says: serials, not_after, rollout, renewal status"
    )
