"""Reading an archive: check the manifest, then unpack each part into scratch space while
hashing it. Nothing is ever extracted under a name taken from the archive: only the part
files the manifest lists, with names of a fixed shape, and at their listed sizes.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import tarfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from adapters.archive.format import (
    CHUNK,
    MANIFEST_NAME,
    MAX_MANIFEST,
    PART_FILE,
    ArchiveError,
    Beat,
    Manifest,
    PartEntry,
)
from store.files import open_private_binary, private_dir
from workflows.contracts.backup import BACKUP_FORMAT, BACKUP_FORMAT_VERSION
from workflows.contracts.common import BackupErrorType


class VerifiedArchive:
    """An archive whose manifest was accepted and whose parts all matched their sha256."""

    def __init__(self, *, manifest: Manifest, root: Path) -> None:
        self.manifest = manifest
        self._root = root

    def rows(self, part: PartEntry) -> Iterator[dict[str, Any]]:
        with (self._root / part.file).open("rb") as lines:
            for line in lines:
                yield json.loads(line)

    def count(self, part: PartEntry) -> int:
        """The part's rows, counted without reading them."""
        count, last = 0, b"\n"
        with (self._root / part.file).open("rb") as lines:
            while chunk := lines.read(CHUNK):
                count += chunk.count(b"\n")
                last = chunk[-1:]
        return count if last == b"\n" else count + 1  # a last line without its newline


def open_archive(*, path: Path, scratch: Path, backup_id: str, beat: Beat) -> VerifiedArchive:
    """Check and unpack the archive at `path` into `scratch`; raise ArchiveError if unusable."""
    try:
        with tarfile.open(path, mode="r:gz") as tar:
            manifest = _read_manifest(tar, backup_id=backup_id)
            _extract_parts(tar, manifest, scratch=scratch, beat=beat)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise ArchiveError(
            BackupErrorType.ARCHIVE_CORRUPT, f"the archive is damaged: {exc}"
        ) from None
    return VerifiedArchive(manifest=manifest, root=scratch)


def _read_manifest(tar: tarfile.TarFile, *, backup_id: str) -> Manifest:
    first = tar.next()
    if first is None or first.name != MANIFEST_NAME or not first.isfile():
        raise ArchiveError(
            BackupErrorType.FOREIGN_ARCHIVE,
            f"not an edgewright backup: the archive does not start with {MANIFEST_NAME}",
        )
    if first.size > MAX_MANIFEST:
        raise ArchiveError(BackupErrorType.ARCHIVE_CORRUPT, "the manifest is implausibly large")
    source = tar.extractfile(first)
    assert source is not None  # a regular file always has content
    try:
        document = json.loads(source.read())
    except ValueError:
        raise ArchiveError(BackupErrorType.ARCHIVE_CORRUPT, "the manifest is not JSON") from None
    if not isinstance(document, dict) or document.get("format") != BACKUP_FORMAT:
        raise ArchiveError(
            BackupErrorType.FOREIGN_ARCHIVE,
            f"not an edgewright backup: the manifest does not say format {BACKUP_FORMAT!r}",
        )
    version = document.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise ArchiveError(BackupErrorType.ARCHIVE_CORRUPT, "the manifest has no format version")
    if version > BACKUP_FORMAT_VERSION:
        raise ArchiveError(
            BackupErrorType.UNSUPPORTED_FORMAT,
            f"the archive has format version {version}; this edgewright reads up to "
            f"{BACKUP_FORMAT_VERSION}. Restore it with the newer edgewright that wrote it.",
        )
    try:
        manifest = Manifest.model_validate(document)
    except ValidationError as exc:
        raise ArchiveError(
            BackupErrorType.ARCHIVE_CORRUPT, f"the manifest is malformed: {exc.errors()[0]['msg']}"
        ) from None
    if manifest.backup_id != backup_id:
        raise ArchiveError(
            BackupErrorType.FOREIGN_ARCHIVE,
            f"the archive holds backup {manifest.backup_id!r}, not {backup_id!r}",
        )
    return manifest


def _extract_parts(tar: tarfile.TarFile, manifest: Manifest, *, scratch: Path, beat: Beat) -> None:
    expected = {part.file: part for part in manifest.parts}
    if len(expected) != len(manifest.parts) or not all(map(PART_FILE.fullmatch, expected)):
        raise ArchiveError(BackupErrorType.ARCHIVE_CORRUPT, "the manifest lists odd part files")
    private_dir(scratch / "parts")
    seen: set[str] = set()
    # tar.next(), not iteration: iterating a TarFile starts over at the manifest.
    while (member := tar.next()) is not None:
        part = expected.get(member.name)
        if part is None or member.name in seen or not member.isfile():
            raise ArchiveError(
                BackupErrorType.ARCHIVE_CORRUPT, f"unexpected archive member {member.name!r}"
            )
        seen.add(member.name)
        if member.size != part.bytes:
            raise _mismatch(part, f"{member.size} bytes instead of {part.bytes}")
        source = tar.extractfile(member)
        assert source is not None
        digest = hashlib.sha256()
        # A name we checked against PART_FILE.
        with open_private_binary(scratch / part.file) as out:
            while chunk := source.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
                beat(len(chunk))
        if digest.hexdigest() != part.sha256:
            raise _mismatch(part, "its sha256 differs from the manifest's")
    missing = sorted(set(expected) - seen)
    if missing:
        raise ArchiveError(BackupErrorType.ARCHIVE_CORRUPT, f"the archive lacks {missing[0]}")


def _mismatch(part: PartEntry, problem: str) -> ArchiveError:
    return ArchiveError(BackupErrorType.CHECKSUM_MISMATCH, f"part {part.name!r}: {problem}")
