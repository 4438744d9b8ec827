"""Snapshots the worker read from the cluster (CloudCore's Deployment, pods, services;
cluster-wide counts), kept as JSON so the API can answer without asking Kubernetes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from store.models import ObservedState
from store.upsert import upsert

CLOUDCORE = "cloudcore"
CLUSTER = "cluster"


async def save_observed(
    session: AsyncSession, *, key: str, value: dict[str, Any], observed_at: datetime
) -> None:
    """Keep `value` unless the stored snapshot was read later.

    `observed_at` is when the read began. Writers race (the health report every 15 s, a
    renewal's or deploy's own record, the node sync): each reads, then writes, so one
    that read before a change could commit after the snapshot that shows it, and the
    API would answer the old state until the next report.
    """
    await upsert(
        session,
        model=ObservedState,
        values={"key": key, "value": value, "observed_at": observed_at},
        key="key",
        update=["value", "observed_at"],
        unless_newer="observed_at",
    )


async def load_observed(session: AsyncSession, *, key: str) -> ObservedState | None:
    return await session.get(ObservedState, key)
