"""The certificates list from the worker's last snapshot: days left and status, now."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from api.certificates.schemas import Certificate, CertificateStatus
from workflows.contracts.certificates import API_TLS, CLOUDCORE_SECRET, CertificateFacts

API_TLS_ABSENT = (
    "the API serves plain HTTP (uvicorn without TLS); TLS, when there is any, ends at the "
    "ingress or load balancer in front of it, whose certificate edgewright does not hold"
)


def status_of(not_after: datetime, *, now: datetime, warning_days: int) -> CertificateStatus:
    if not_after <= now:
        return CertificateStatus.EXPIRED
    if not_after - now <= timedelta(days=warning_days):
        return CertificateStatus.EXPIRING
    return CertificateStatus.OK


def days_left(not_after: datetime, *, now: datetime) -> int:
    """Whole days left, rounded down: 0 on its last day, negative once expired."""
    return math.floor((not_after - now) / timedelta(days=1))


def _present(facts: CertificateFacts, *, now: datetime, warning_days: int) -> Certificate:
    return Certificate(
        name=facts.name,
        secret=facts.secret,
        status=status_of(facts.not_after, now=now, warning_days=warning_days),
        subject=facts.subject,
        sans=facts.sans,
        issuer=facts.issuer,
        serial=facts.serial,
        not_before=facts.not_before,
        not_after=facts.not_after,
        days_left=days_left(facts.not_after, now=now),
        renewable=facts.name == CLOUDCORE_SECRET,
    )


def absent(name: str, *, secret: str | None, reason: str) -> Certificate:
    return Certificate(
        name=name,
        secret=secret,
        status=CertificateStatus.ABSENT,
        subject=None,
        sans=[],
        issuer=None,
        serial=None,
        not_before=None,
        not_after=None,
        days_left=None,
        renewable=False,
        reason=reason,
    )


def certificates_of(
    snapshot: dict[str, Any] | None, *, now: datetime, warning_days: int
) -> list[Certificate]:
    """CloudCore's certificates as last read (none before the first read), then the API's."""
    listed = []
    for item in (snapshot or {}).get("certificates") or []:
        facts = CertificateFacts.model_validate(item)
        listed.append(_present(facts, now=now, warning_days=warning_days))
    for item in (snapshot or {}).get("absent") or []:
        listed.append(absent(item["name"], secret=item.get("secret"), reason=item["reason"]))
    listed.append(absent(API_TLS, secret=None, reason=API_TLS_ABSENT))
    return listed
