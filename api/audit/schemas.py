"""Answers of `GET /api/kubeedge/security/logs`: audit events, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from api.core.listing import ListPagination
from store.models import AuditRow


class AuditEventOut(BaseModel):
    id: int = Field(description="Increasing and never reused")
    timestamp: datetime
    event: str = Field(description="One of the event names the `event` filter accepts")
    actor: str | None = Field(
        description="Who: a username, `api-key:<key_id>`, the name a failed login gave, "
        "or null when nobody authenticated"
    )
    source_ip: str | None = Field(description="The client address the API saw")
    target: str | None = Field(description="What it was about, e.g. `api_key:ewk_...`")
    outcome: str = Field(description="success, failure or denied")
    details: dict[str, Any] = Field(description="Event-specific; never a credential")

    @classmethod
    def of(cls, row: AuditRow) -> AuditEventOut:
        return cls(
            id=row.id,
            timestamp=row.timestamp,
            event=row.event,
            actor=row.actor,
            source_ip=row.source_ip,
            target=row.target,
            outcome=row.outcome,
            details=row.details,
        )


class AuditLog(BaseModel):
    count: int = Field(description="Events in this answer; all that match is pagination.total")
    logs: list[AuditEventOut]
    pagination: ListPagination
