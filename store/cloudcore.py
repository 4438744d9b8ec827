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
    await upsert(
        session,
        model=ObservedState,
        values={"key": key, "value": value, "observed_at": observed_at},
        key="key",
        update=["value", "observed_at"],
    )


async def load_observed(session: AsyncSession, *, key: str) -> ObservedState | None:
    return await session.get(ObservedState, key)
