"""Bodies and answers of /api/kubeedge/maintenance."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from workflows.contracts.common import PrintableText
from workflows.contracts.maintenance import (
    MAX_DURATION_MINUTES,
    MAX_MESSAGE_CHARS,
    MAX_REASON_CHARS,
    MIN_DURATION_MINUTES,
    EndReason,
    PausedItem,
)


class StartRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: PrintableText = Field(min_length=1, max_length=MAX_REASON_CHARS)
    # Strict: "30", 30.0 and true are refused rather than guessed at.
    duration_minutes: int = Field(
        strict=True,
        ge=MIN_DURATION_MINUTES,
        le=MAX_DURATION_MINUTES,
        description="The window ends by itself this many minutes after it starts",
    )
    message: PrintableText = Field(
        default="",
        max_length=MAX_MESSAGE_CHARS,
        description="Shown to every caller whose write is refused meanwhile",
    )


class MaintenanceView(BaseModel):
    status: str = Field(description='"success"; "accepted" when a POST answers 202')
    active: bool = Field(description="Writes are refused now (open and before ends_at)")
    reason: str | None
    message: str | None
    started_at: datetime | None
    ends_at: datetime | None
    started_by: str | None = Field(description="The admin, or `restore:<restore_id>`")
    paused: list[PausedItem] = Field(
        description="What this window paused and resumes at its end: runs by workflow ID, "
        "backup schedules by schedule ID"
    )
    stopped_at: datetime | None = None
    ended: EndReason | None = Field(default=None, description="How the last window ended")
    stopped_by: str | None = None
    workflow_id: str | None = None
    temporal_ui_url: str | None = None
