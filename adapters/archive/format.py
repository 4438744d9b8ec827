"""The archive format, shared by its writer and its reader.

One tar.gz: `manifest.json` first, then one JSON Lines file per part under `parts/`. The
manifest names the format and its version, what was included, and for every part its
row count, size and sha256, so a reader can refuse a foreign, newer or damaged archive
before it changes anything.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from workflows.contracts.backup import BackupInclude, PartSummary, SkippedPart
from workflows.contracts.common import BackupErrorType

MANIFEST_NAME = "manifest.json"
MAX_MANIFEST = 16 * 1024 * 1024
PART_FILE = re.compile(r"parts/[a-z0-9][a-z0-9-]{0,99}\.jsonl")  # .fullmatch only
CHUNK = 1024 * 1024
# Speed over the last few percent of size: rows of JSON compress well at any level.
COMPRESS_LEVEL = 6

Beat = Callable[[int], None]  # bytes processed since the last call


class ArchiveError(Exception):
    """The archive cannot be used; `error_type` says why (workflows.contracts)."""

    def __init__(self, error_type: BackupErrorType, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


class PartEntry(BaseModel):
    model_config = ConfigDict(extra="allow")  # kind-specific fields (key, columns, kind)

    name: str
    include: BackupInclude
    source: Literal["table", "kubernetes"]
    file: str
    count: int = Field(ge=0)
    bytes: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")

    def summary(self) -> PartSummary:
        return PartSummary(
            name=self.name,
            include=self.include,
            source=self.source,
            count=self.count,
            bytes=self.bytes,
            sha256=self.sha256,
        )


class Manifest(BaseModel):
    model_config = ConfigDict(extra="allow")  # older readers ignore fields added later

    format: str
    format_version: int
    backup_id: str
    kind: str
    created_at: datetime
    include: list[BackupInclude]
    description: str | None = None
    parts: list[PartEntry]
    skipped: list[SkippedPart] = Field(default_factory=list)


def part_file(name: str) -> str:
    return "parts/" + re.sub(r"[^a-z0-9-]", "-", name.lower()) + ".jsonl"


def file_sha256(path: Path, *, beat: Beat) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            beat(len(chunk))
    return digest.hexdigest()
