"""Batch-join registrations for the worker."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.join.batches import BatchActivities
from activities.webhooks.emitter import WebhookEmitter
from workflows.join.batch_join import BatchJoinWorkflow

BATCH_WORKFLOWS: tuple[type, ...] = (BatchJoinWorkflow,)


def batch_activities(
    *, sessions: async_sessionmaker[AsyncSession], webhooks: WebhookEmitter | None = None
) -> list[Any]:
    acts = BatchActivities(sessions=sessions, webhooks=webhooks)
    return [
        acts.load_batch_page,
        acts.record_batch_results,
        acts.read_batch_results,
        acts.finish_batch,
        acts.cancel_batch_joins,
    ]
