"""The audit log's query filters, checked before anything reads the store.

`since` and `until` are ISO 8601 date-times (a date alone means its midnight; no zone
means UTC): parsed here rather than by pydantic, which would also take a bare number as
a Unix time. A bad value is a 400 naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from api.core.errors import ApiError
from store.audit import AuditEvent
from workflows.contracts.common import has_control_characters


@dataclass(frozen=True, kw_only=True)
class AuditFilters:
    event: AuditEvent | None = None
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def audit_filters(
    *, event: AuditEvent | None, actor: str | None, since: str | None, until: str | None
) -> AuditFilters:
    problems: dict[str, str] = {}
    if actor is not None and (not actor or has_control_characters(actor)):
        problems["actor"] = "must be a non-empty name without control characters"
    start = _instant("since", since, problems)
    end = _instant("until", until, problems)
    if start is not None and end is not None and end < start:
        problems["until"] = "must not be before since"
    if problems:
        fields = ", ".join(problems)
        raise ApiError(400, f"Invalid audit log filter: {fields}", details=problems)
    return AuditFilters(event=event, actor=actor, since=start, until=end)


def _instant(name: str, text: str | None, problems: dict[str, str]) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
        # 0001-01-01T00:00+01:00 is before year 1 in UTC: no datetime holds it.
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (ValueError, OverflowError):
        problems[name] = "must be an ISO 8601 date-time, e.g. 2026-01-31T12:00:00Z"
        return None
