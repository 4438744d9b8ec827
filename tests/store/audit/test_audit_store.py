"""The audit log on SQLite and PostgreSQL: append, filter, page, dedupe, scrub, prune."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.audit import (
    REDACTED,
    AuditEvent,
    AuditOutcome,
    append_audit_event,
    dedupe_key,
    list_audit_events,
    prune_audit_events,
)
from store.models import AuditRow, utcnow

Sessions = async_sessionmaker[AsyncSession]


async def test_filters_and_pages_newest_first(sessions: Sessions) -> None:
    now = utcnow()
    async with sessions() as session, session.begin():
        for minutes, event, actor in [
            (30, AuditEvent.LOGIN_FAILED, "mallory"),
            (20, AuditEvent.LOGIN_SUCCEEDED, "alice"),
            (10, AuditEvent.API_KEY_CREATED, "alice"),
            (0, AuditEvent.LOGIN_FAILED, "alice"),
        ]:
            await append_audit_event(
                session,
                event=event,
                actor=actor,
                source_ip="192.0.2.7",
                at=now - timedelta(minutes=minutes),
            )
    async with sessions() as session:
        rows, total = await list_audit_events(session, actor="alice", limit=2)
        assert total == 3
        assert [row.event for row in rows] == ["login_failed", "api_key_created"]
        rows, total = await list_audit_events(session, actor="alice", offset=2, limit=2)
        assert (total, [row.event for row in rows]) == (3, ["login_succeeded"])
        rows, total = await list_audit_events(session, event=AuditEvent.LOGIN_FAILED)
        assert [row.actor for row in rows] == ["alice", "mallory"]
        rows, total = await list_audit_events(
            session, since=now - timedelta(minutes=25), until=now - timedelta(minutes=5)
        )
        assert [row.event for row in rows] == ["api_key_created", "login_succeeded"]
        assert rows[0].source_ip == "192.0.2.7"
        assert rows[0].timestamp.tzinfo is not None


async def test_a_dedupe_key_records_once(sessions: Sessions) -> None:
    key = dedupe_key("token_used", "jti-1", "2026-12-02")
    for _ in range(2):
        async with sessions() as session, session.begin():
            await append_audit_event(session, event=AuditEvent.TOKEN_USED, dedupe=key)
    async with sessions() as session, session.begin():
        # Events without a key never collide (NULLs are distinct in a unique index).
        for _ in range(2):
            await append_audit_event(session, event=AuditEvent.LOGOUT)
    async with sessions() as session:
        events = list(await session.scalars(select(AuditRow.event).order_by(AuditRow.id)))
    assert events == ["token_used", "logout", "logout"]


async def test_details_never_keep_a_credential(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        await append_audit_event(
            session,
            event=AuditEvent.CONFIG_CHANGED,
            outcome=AuditOutcome.FAILURE,
            details={
                "password": "hunter2-secret",
                "nested": {"webhook_secret": "s3cr3t", "Authorization": "Bearer abc"},
                "token": "eyJhbGciOi",
                "token_id": "jti-42",
                "X-API-Key": "ewk_abc",
                "changes": {"token_expiry_hours": 2},
                "reason": "x" * 1000,
            },
        )
    async with sessions() as session:
        row = (await session.scalars(select(AuditRow))).one()
    assert row.details["password"] == REDACTED
    assert row.details["nested"] == {"webhook_secret": REDACTED, "Authorization": REDACTED}
    assert row.details["token"] == REDACTED
    assert row.details["X-API-Key"] == REDACTED
    assert row.details["token_id"] == "jti-42"
    assert row.details["changes"] == {"token_expiry_hours": 2}
    assert len(row.details["reason"]) == 300
    assert row.outcome == "failure"


async def test_prune_deletes_only_rows_past_retention(sessions: Sessions) -> None:
    now = utcnow()
    async with sessions() as session, session.begin():
        for days in (100, 91, 89, 0):
            await append_audit_event(
                session,
                event=AuditEvent.LOGOUT,
                target=f"{days}d",
                at=now - timedelta(days=days),
            )
    async with sessions() as session, session.begin():
        assert await prune_audit_events(session, before=now - timedelta(days=90)) == 2
    async with sessions() as session:
        kept = list(await session.scalars(select(AuditRow.target).order_by(AuditRow.id)))
    assert kept == ["89d", "0d"]
