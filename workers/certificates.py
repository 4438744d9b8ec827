"""Certificates: the renewal workflow and its activities, for workers.worker to register."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.certificates.renewal import CertificateActivities
from adapters.kubernetes.client import KubeTarget
from workflows.certificates.renewal import CertificateRenewalWorkflow

CERTIFICATE_WORKFLOWS: Sequence[type] = (CertificateRenewalWorkflow,)


def certificate_activities(
    *, target: KubeTarget, sessions: async_sessionmaker[AsyncSession]
) -> list[Any]:
    certificates = CertificateActivities(target=target, sessions=sessions)
    return [
        certificates.issue_cloudcore_certificate,
        certificates.restart_cloudcore,
        certificates.read_cloudcore_restart,
        certificates.restore_cloudcore_certificate,
        certificates.forget_previous_certificate,
        certificates.record_certificate_renewal,
    ]
