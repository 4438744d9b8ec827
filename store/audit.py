"""The security audit log: append, list, and prune by age. Nothing here updates a row.

Every process that records (the API, and any activity that wants to) calls
`append_audit_event`; the API's `api.core.audit` fills the actor and the source address
from the request. Details are scrubbed on the way in: a key that names a credential is
replaced by "[redacted]" and long strings are cut, so a careless caller cannot put a
password, token, key or secret into the trail.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import AuditRow, utcnow
from store.upsert import insert_for


class AuditEvent(StrEnum):
    # Event names, not credentials (ruff S105 reads "token" and "secret" as passwords).
    LOGIN_SUCCEEDED = "login_succeeded"
    LOGIN_FAILED = "login_failed"
    LOGOUT = "logout"
    # Join tokens and node tokens; a login's own token is in its login_succeeded.
    TOKEN_ISSUED = "token_issued"  # noqa: S105
    TOKEN_REVOKED = "token_revoked"  # noqa: S105
    TOKEN_USED = "token_used"  # noqa: S105 - a login token's first use per UTC day
    TOKEN_REFUSED = "token_refused"  # noqa: S105 - once per address and reason per minute
    API_KEY_CREATED = "api_key_created"
    API_KEY_REVOKED = "api_key_revoked"
    ACCESS_DENIED = "access_denied"  # every 403 answered
    USER_CREATED = "user_created"
    USER_CHANGED = "user_changed"  # role or state changes
    USER_DELETED = "user_deleted"
    CONFIG_CHANGED = "config_changed"
    RESTORE_STARTED = "restore_started"
    WEBHOOK_SECRET_ROTATED = "webhook_secret_rotated"  # noqa: S105
    MAINTENANCE_STARTED = "maintenance_started"
    MAINTENANCE_STOPPED = "maintenance_stopped"
    CERTIFICATE_RENEWAL_STARTED = "certificate_renewal_started"
    CERTIFICATE_RENEWED = "certificate_renewed"


class AuditOutcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    DENIED = "denied"


REDACTED = "[redacted]"
# Detail keys that may never carry their value (case-insensitive): anywhere in the name,
# or at its end ("token", "x-api-key", but not "token_expiry_hours").
_SECRET_WORDS = ("password", "passwd", "secret", "authorization", "cookie", "credential")
_SECRET_ENDINGS = ("token", "key", "jwt", "bearer")
# Keys that name a credential without holding it: ids and expiries are safe to keep.
_SAFE_SUFFIXES = ("_id", "_ids", "_at", "_kind", "_type")
MAX_TEXT = 300
_MAX_ITEMS = 50
_MAX_DEPTH = 4


def scrub_details(details: Mapping[str, Any] | None) -> dict[str, Any]:
    """JSON-ready details without credentials, bounded in size."""
    return _scrub_mapping(details or {}, depth=0)


def _scrub_mapping(values: Mapping[str, Any], *, depth: int) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for key, value in list(values.items())[:_MAX_ITEMS]:
        name = str(key)[:64]
        clean[name] = REDACTED if _is_secret_key(name) else _scrub_value(value, depth=depth + 1)
    return clean


def _is_secret_key(name: str) -> bool:
    lowered = name.lower()
    if lowered.endswith(_SAFE_SUFFIXES):
        return False
    return any(word in lowered for word in _SECRET_WORDS) or lowered.endswith(_SECRET_ENDINGS)


def _scrub_value(value: Any, *, depth: int) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if depth >= _MAX_DEPTH:
        return "..."
    if isinstance(value, Mapping):
        return _scrub_mapping(value, depth=depth)
    if isinstance(value, list | tuple | set | frozenset):
        return [_scrub_value(item, depth=depth + 1) for item in list(value)[:_MAX_ITEMS]]
    if isinstance(value, datetime):
        return value.isoformat()
    return clip(str(value))


def clip(text: str | None, limit: int = MAX_TEXT) -> str | None:
    return None if text is None else text[:limit]


def dedupe_key(*parts: str) -> str:
    """A fixed-size key for an event recorded once per period (never the parts' text)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


async def append_audit_event(
    session: AsyncSession,
    *,
    event: AuditEvent,
    outcome: AuditOutcome = AuditOutcome.SUCCESS,
    actor: str | None = None,
    source_ip: str | None = None,
    target: str | None = None,
    details: Mapping[str, Any] | None = None,
    dedupe: str | None = None,
    at: datetime | None = None,
) -> None:
    """Append one event in `session`'s transaction; with `dedupe`, at most once per key."""
    values = {
        "timestamp": at or utcnow(),
        "event": event.value,
        "actor": clip(actor, 100),
        "source_ip": clip(source_ip, 64),
        "target": clip(target),
        "outcome": outcome.value,
        "details": scrub_details(details),
        "dedupe_key": dedupe,
    }
    if dedupe is None:
        await session.execute(insert(AuditRow), values)
        return
    stmt = insert_for(session.get_bind().dialect.name)(AuditRow).on_conflict_do_nothing(
        index_elements=["dedupe_key"]
    )
    await session.execute(stmt, values)


def _conditions(
    *,
    event: AuditEvent | None,
    actor: str | None,
    since: datetime | None,
    until: datetime | None,
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if event is not None:
        conditions.append(AuditRow.event == event.value)
    if actor is not None:
        conditions.append(AuditRow.actor == actor)
    if since is not None:
        conditions.append(AuditRow.timestamp >= since)
    if until is not None:
        conditions.append(AuditRow.timestamp <= until)
    return conditions


async def list_audit_events(
    session: AsyncSession,
    *,
    event: AuditEvent | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    offset: int = 0,
    limit: int = 100,
) -> tuple[list[AuditRow], int]:
    """Newest first, and the total matching the filters."""
    where = _conditions(event=event, actor=actor, since=since, until=until)
    total = await session.scalar(select(func.count(AuditRow.id)).where(*where))
    query = select(AuditRow).where(*where).order_by(AuditRow.id.desc())
    rows = await session.scalars(query.offset(offset).limit(limit))
    return list(rows), int(total or 0)


async def prune_audit_events(session: AsyncSession, *, before: datetime) -> int:
    """Delete the events older than `before`: the retention, and the only deletion."""
    result = await session.execute(delete(AuditRow).where(AuditRow.timestamp < before))
    return int(getattr(result, "rowcount", 0) or 0)
