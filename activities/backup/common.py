"""Pieces the backup and restore activities share: scratch space, locating an archive,
fetching and verifying one, and turning archive problems into final errors."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from temporalio.exceptions import ApplicationError

from activities.heartbeat import Heartbeat
from adapters.archive.format import ArchiveError, file_sha256
from adapters.archive.reader import VerifiedArchive, open_archive
from adapters.storage.locations import ObjectStore, StoreFactory, archive_name, split_object_url
from store.files import private_dir
from workflows.contracts.common import BackupErrorType


@asynccontextmanager
async def scratch_dir(heartbeat: Heartbeat, *, under: Path | None) -> AsyncIterator[Path]:
    """A private (0700) temporary directory, removed afterwards whatever happens."""
    if under is not None:
        await heartbeat.run(private_dir, under)
    path = Path(await heartbeat.run(tempfile.mkdtemp, prefix="edgewright-backup-", dir=under))
    try:
        yield path
    finally:
        await heartbeat.run(shutil.rmtree, path, ignore_errors=True)


def final(error: ArchiveError) -> ApplicationError:
    return ApplicationError(str(error), type=error.error_type, non_retryable=True)


@dataclass(frozen=True)
class Located:
    store: ObjectStore
    name: str

    @property
    def url(self) -> str:
        return self.store.url_of(self.name)


def locate(stores: StoreFactory, *, backup_id: str, location: str | None) -> Located:
    """Where an archive is: its recorded location, else where the configuration puts it."""
    if location:
        base, name = split_object_url(location)
        return Located(stores.get(base), name)
    return Located(stores.get(), archive_name(backup_id))


@dataclass(frozen=True)
class Fetched:
    archive: VerifiedArchive
    sha256: str
    size_bytes: int


async def fetch_verified(
    where: Located,
    *,
    backup_id: str,
    expected_sha256: str | None,
    scratch: Path,
    heartbeat: Heartbeat,
) -> Fetched:
    """Download, check the whole archive's sha256 (when one is known) and every part's."""
    head = await heartbeat.run(where.store.head, name=where.name)
    if head is None:
        raise ApplicationError(
            f"backup {backup_id!r} has no archive at {where.url}",
            type=BackupErrorType.ARCHIVE_MISSING,
            non_retryable=True,
        )
    # The record knows what was uploaded; without one (a store rebuilt after a disaster)
    # the object's own metadata does; the manifest's per-part sums are checked regardless.
    expected = expected_sha256 or head.metadata.get("sha256")
    path = scratch / "archive.tar.gz"
    await heartbeat.run(
        where.store.download, name=where.name, path=path, progress=heartbeat.counter("downloaded")
    )
    digest = await heartbeat.run(file_sha256, path, beat=heartbeat.counter("hashed"))
    if expected is not None and digest != expected:
        raise ApplicationError(
            f"the archive at {where.url} does not match its recorded sha256 "
            f"(expected {expected[:12]}…, found {digest[:12]}…): it was damaged or replaced",
            type=BackupErrorType.CHECKSUM_MISMATCH,
            non_retryable=True,
        )
    try:
        archive = await heartbeat.run(
            open_archive,
            path=path,
            scratch=scratch / "unpacked",
            backup_id=backup_id,
            beat=heartbeat.counter("unpacked"),
        )
    except ArchiveError as error:
        raise final(error) from None
    size = (await heartbeat.run(path.stat)).st_size
    await heartbeat.run(path.unlink)  # unpacked now; halve the scratch space needed
    return Fetched(archive=archive, sha256=digest, size_bytes=size)
