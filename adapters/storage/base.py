"""What every object store offers the backup activities, whatever is behind it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from temporalio.exceptions import ApplicationError

from workflows.contracts.common import BackupErrorType

# Called with the bytes moved since the previous call, from any thread; raising aborts.
Progress = Callable[[int], None]
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class StoredObject:
    size: int
    etag: str | None
    metadata: dict[str, str] = field(default_factory=dict)


class ObjectStore(Protocol):
    base_url: str

    def url_of(self, name: str) -> str: ...
    def upload(
        self, *, path: Path, name: str, metadata: dict[str, str], progress: Progress
    ) -> bool:
        """Store the file under `name`; True when it went up in parts."""
        ...

    def head(self, *, name: str) -> StoredObject | None: ...
    def download(self, *, name: str, path: Path, progress: Progress) -> None: ...
    def read(self, *, name: str, progress: Progress) -> Iterator[bytes]: ...
    def delete(self, *, name: str) -> None: ...
    def abort_uploads(self, *, name: str) -> int:
        """Abort unfinished uploads of `name` (a crashed attempt's); how many there were."""
        ...


def invalid_location(url: str, problem: str) -> ApplicationError:
    return ApplicationError(
        f"backup location {url!r} {problem}; use s3://bucket/prefix or file://path",
        type=BackupErrorType.INVALID_LOCATION,
        non_retryable=True,
    )
