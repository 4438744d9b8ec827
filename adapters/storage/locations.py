"""Object storage for backup archives: where a location URL leads, and archive names.

`s3://bucket/prefix` is S3 (adapters.storage.s3), `file://path` a directory
(adapters.storage.file). Both are synchronous: activities run them in the worker's
thread pool. Neither leaves a partial object behind.
"""

from __future__ import annotations

from pathlib import Path

from adapters.storage.base import (
    CHUNK,
    ObjectStore,
    Progress,
    StoredObject,
    invalid_location,
)
from adapters.storage.file import FileStore
from store.settings import Settings

__all__ = [
    "CHUNK",
    "FileStore",
    "ObjectStore",
    "Progress",
    "StoreFactory",
    "StoredObject",
    "archive_name",
    "open_store",
    "split_object_url",
]

ARCHIVE_SUFFIX = ".tar.gz"


def archive_name(backup_id: str) -> str:
    return f"{backup_id}{ARCHIVE_SUFFIX}"


def split_object_url(url: str) -> tuple[str, str]:
    """`s3://bucket/prefix/id.tar.gz` → (`s3://bucket/prefix`, `id.tar.gz`)."""
    base, _, name = url.rpartition("/")
    if not base or not name:
        raise invalid_location(url, "names no object")
    return base, name


class StoreFactory:
    """One store per base URL, built on first use; boto3 clients are thread-safe."""

    def __init__(self, *, settings: Settings) -> None:
        self._settings = settings
        self._stores: dict[str, ObjectStore] = {}

    @property
    def default_base(self) -> str:
        return self._settings.backup_base_url.rstrip("/")

    def get(self, base_url: str | None = None) -> ObjectStore:
        base = (base_url or self.default_base).rstrip("/")
        if base not in self._stores:
            self._stores[base] = open_store(base, settings=self._settings)
        return self._stores[base]


def open_store(base_url: str, *, settings: Settings) -> ObjectStore:
    if base_url.startswith("file://"):
        root = base_url.removeprefix("file://")
        if not root:
            raise invalid_location(base_url, "names no directory")
        return FileStore(root=Path(root), base_url=base_url)
    if base_url.startswith("s3://"):
        # Imported here: boto3 is over 20 MB of a process's memory, and a worker whose
        # backups go to a directory (or that makes none) never needs it.
        from adapters.storage.s3 import S3Store

        bucket, _, prefix = base_url.removeprefix("s3://").partition("/")
        if not bucket:
            raise invalid_location(base_url, "names no bucket")
        return S3Store(
            bucket=bucket, prefix=prefix.strip("/"), base_url=base_url, settings=settings
        )
    raise invalid_location(base_url, "has an unknown scheme")
