"""A directory as object store: the embedded default (`file://data/backups`).

Each archive is written to a hidden temporary file beside its final name, flushed to
disk and renamed, so a reader never sees half an archive; its metadata lives in a
`.meta.json` beside it, as S3 keeps metadata on the object. Archives are 0600 in a
directory created 0700 (store.files): they hold the inventory and token hashes.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from temporalio.exceptions import ApplicationError

from adapters.storage.base import CHUNK, Progress, StoredObject, invalid_location
from store.files import open_private_binary, private_dir
from workflows.contracts.common import BackupErrorType


class FileStore:
    """Archives as files under `root`; see the module docstring."""

    def __init__(self, *, root: Path, base_url: str) -> None:
        self.base_url = base_url
        self._root = root

    def _path(self, name: str) -> Path:
        if "/" in name or name.startswith("."):
            raise invalid_location(self.url_of(name), "is not a plain file name")
        return self._root / name

    def _meta(self, name: str) -> Path:
        return self._root / f"{name}.meta.json"

    def url_of(self, name: str) -> str:
        return f"{self.base_url.rstrip('/')}/{name}"

    def upload(
        self, *, path: Path, name: str, metadata: dict[str, str], progress: Progress
    ) -> bool:
        target = self._path(name)
        with _file_errors(action="upload", url=self.url_of(name)):
            private_dir(self._root)
            # The metadata first: an archive never exists without it, and a stale one is
            # overwritten by the next upload of the same name.
            _write_atomically(self._meta(name), json.dumps(metadata).encode(), progress=None)
            with path.open("rb") as source:
                _write_atomically(target, source, progress=progress)
        return False

    def head(self, *, name: str) -> StoredObject | None:
        try:
            stat = self._path(name).stat()
        except FileNotFoundError:
            return None
        try:
            metadata = json.loads(self._meta(name).read_text())
        except (FileNotFoundError, ValueError):
            metadata = {}
        return StoredObject(size=stat.st_size, etag=None, metadata=metadata)

    def download(self, *, name: str, path: Path, progress: Progress) -> None:
        with (
            _file_errors(action="download", url=self.url_of(name)),
            self._path(name).open("rb") as source,
            open_private_binary(path) as target,
        ):
            _copy(source, target, progress)

    def read(self, *, name: str, progress: Progress) -> Iterator[bytes]:
        with (
            _file_errors(action="read", url=self.url_of(name)),
            self._path(name).open("rb") as source,
        ):
            while chunk := source.read(CHUNK):
                progress(len(chunk))
                yield chunk

    def delete(self, *, name: str) -> None:
        with _file_errors(action="delete", url=self.url_of(name)):
            self._path(name).unlink(missing_ok=True)
            self._meta(name).unlink(missing_ok=True)

    def abort_uploads(self, *, name: str) -> int:
        leftovers = list(self._root.glob(f".{name}.partial-*")) if self._root.is_dir() else []
        for leftover in leftovers:
            leftover.unlink(missing_ok=True)
        return len(leftovers)


@contextlib.contextmanager
def _file_errors(*, action: str, url: str) -> Iterator[None]:
    """A missing or forbidden path stays so on retry; other disk errors may pass (full disk)."""
    try:
        yield
    except FileNotFoundError as exc:
        raise ApplicationError(
            f"{action} {url}: {exc.strerror}",
            type=BackupErrorType.STORAGE_NOT_FOUND,
            non_retryable=True,
        ) from None
    except PermissionError as exc:
        raise ApplicationError(
            f"{action} {url}: {exc.strerror}",
            type=BackupErrorType.STORAGE_FORBIDDEN,
            non_retryable=True,
        ) from None


def _write_atomically(target: Path, source: Any, *, progress: Progress | None) -> None:
    """Write to a hidden temporary file beside `target`, flush it to disk, rename it."""
    partial = target.with_name(f".{target.name}.partial-{uuid.uuid4().hex[:8]}")
    try:
        with open_private_binary(partial) as out:
            if isinstance(source, bytes):
                out.write(source)
            else:
                _copy(source, out, progress)
            out.flush()
            os.fsync(out.fileno())
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)


def _copy(source: Any, target: Any, progress: Progress | None) -> None:
    if progress is None:
        shutil.copyfileobj(source, target, CHUNK)
        return
    while chunk := source.read(CHUNK):
        target.write(chunk)
        progress(len(chunk))
