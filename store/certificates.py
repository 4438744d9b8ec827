"""The certificates the worker last read from CloudCore's Secrets (public facts only), kept
as JSON beside the other observed snapshots so the API lists them without Kubernetes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from store.cloudcore import load_observed, save_observed
from store.models import ObservedState

CERTIFICATES = "certificates"


async def save_certificates(
    session: AsyncSession, *, snapshot: dict[str, Any], observed_at: datetime
) -> None:
    """As `save_observed`: `observed_at` is when the read began; a later one is kept."""
    await save_observed(session, key=CERTIFICATES, value=snapshot, observed_at=observed_at)


async def load_certificates(session: AsyncSession) -> ObservedState | None:
    return await load_observed(session, key=CERTIFICATES)
