"""Request bodies of the backup endpoints, and what every one of them needs to know."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field

from api.core.runs import request_fingerprint
from store.settings import Settings
from workflows.contracts.backup import BackupId, BackupInclude, RestoreMode, Retention
from workflows.contracts.common import ShortText

BackupIdPath = Annotated[str, Path(max_length=128, description="The backup's backup_id")]
WaitQuery = Annotated[
    bool, Query(description="Wait (up to a configured time) for the run to end; false: 202 at once")
]


class BackupRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: BackupId | None = Field(
        default=None, description="Becomes the backup_id; the same name again is the same backup"
    )
    include: list[BackupInclude] | None = Field(
        default=None, min_length=1, description="Default: everything"
    )
    description: ShortText | None = None


class RestoreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    backup_id: BackupId
    restore_id: BackupId | None = Field(
        default=None, description="Optional; the same restore_id again is the same restore"
    )
    dry_run: bool = False
    mode: RestoreMode = RestoreMode.MERGE
    include: list[BackupInclude] | None = Field(default=None, min_length=1)


def fingerprint(body: BaseModel) -> str:
    return request_fingerprint(body.model_dump(mode="json"))


def new_id(prefix: str) -> str:
    return f"{prefix}-{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def retention(settings: Settings) -> Retention:
    return Retention(keep_last=settings.backup_keep_last, keep_days=settings.backup_keep_days)


def error_details(view: dict[str, Any], error_type: str | None) -> dict[str, Any]:
    """What a failed run's error answer carries in `details`: its type and where to look."""
    keep = (
        "backup_id",
        "restore_id",
        "backup_status",
        "restore_status",
        "safety_backup_id",
        "rolled_back",
        "rollback",
        "workflow_id",
        "temporal_ui_url",
        "status_url",
    )
    return {"error_type": error_type, **{key: view[key] for key in keep if key in view}}
