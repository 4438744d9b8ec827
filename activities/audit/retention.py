"""The audit retention activity: one transaction of store.audit.prune_audit_events."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from store.audit import prune_audit_events
from store.models import utcnow
from workflows.contracts.audit import AuditActivity, AuditRetentionInput, AuditRetentionResult


class AuditActivities:
    def __init__(self, *, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name=AuditActivity.PRUNE_AUDIT_LOG)
    async def prune_audit_log(self, inp: AuditRetentionInput) -> AuditRetentionResult:
        cutoff = utcnow().replace(microsecond=0) - timedelta(days=inp.retention_days)
        async with self._sessions() as session, session.begin():
            deleted = await prune_audit_events(session, before=cutoff)
        activity.logger.info("audit log: %d events older than %s deleted", deleted, cutoff)
        return AuditRetentionResult(cutoff=cutoff, deleted=deleted)
