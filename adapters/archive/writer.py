"""Writing an archive: rows streamed to one scratch file per part, counted and hashed on
the way, then packed into the tar.gz with the manifest first. No part is ever held whole
in memory.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

from adapters.archive.format import (
    CHUNK,
    COMPRESS_LEVEL,
    MANIFEST_NAME,
    Beat,
    Manifest,
    PartEntry,
    part_file,
)
from store.backup.json_text import spliced
from store.files import open_private_binary, private_dir
from workflows.contracts.backup import (
    BACKUP_FORMAT,
    BACKUP_FORMAT_VERSION,
    BackupInclude,
    PartSummary,
    SkippedPart,
)


class PartWriter:
    """Appends rows to one part's scratch file, counting and hashing as it goes."""

    def __init__(self, *, path: Path, entry: dict[str, Any]) -> None:
        self._out: IO[bytes] = open_private_binary(path)
        self._hash = hashlib.sha256()
        self.entry = entry
        self.count = 0
        self.bytes = 0

    def write(self, rows: Iterable[dict[str, Any]]) -> None:
        """Append rows, each encoded as one line of JSON."""
        self.write_lines([spliced(row, ()) for row in rows])

    def write_lines(self, lines: Sequence[str]) -> None:
        """Append rows already encoded, each one line of compact, valid JSON (made by the
        database or by store.backup.json_text.spliced)."""
        if not lines:
            return
        data = ("\n".join(lines) + "\n").encode()
        self._out.write(data)
        self._hash.update(data)
        self.count += len(lines)
        self.bytes += len(data)

    def close(self) -> dict[str, Any]:
        self._out.close()
        return {
            **self.entry,
            "count": self.count,
            "bytes": self.bytes,
            "sha256": self._hash.hexdigest(),
        }


class ArchiveWriter:
    def __init__(self, *, scratch: Path, manifest: dict[str, Any]) -> None:
        self._scratch = scratch
        self._manifest = {
            **manifest,
            "format": BACKUP_FORMAT,
            "format_version": BACKUP_FORMAT_VERSION,
        }
        self._parts: list[dict[str, Any]] = []
        self._skipped: list[SkippedPart] = []
        private_dir(scratch / "parts")

    def open_part(
        self, *, name: str, include: BackupInclude, source: str, **extra: Any
    ) -> PartWriter:
        file = part_file(name)
        entry = {"name": name, "include": include.value, "source": source, "file": file, **extra}
        return PartWriter(path=self._scratch / file, entry=entry)

    def add(self, part: PartWriter) -> PartSummary:
        entry = part.close()
        self._parts.append(entry)
        return PartEntry.model_validate(entry).summary()

    def skip(self, skipped: SkippedPart) -> None:
        self._skipped.append(skipped)

    def finish(self, *, target: Path, beat: Beat) -> tuple[Manifest, str, int]:
        """Write the archive; returns its manifest, sha256 and size."""
        manifest = Manifest.model_validate(
            {
                **self._manifest,
                "parts": self._parts,
                "skipped": [s.model_dump(mode="json") for s in self._skipped],
            }
        )
        document = json.dumps(manifest.model_dump(mode="json"), indent=1).encode()
        with open_private_binary(target) as raw:
            hashing = _HashingWriter(raw)
            # tar copies a part 16 KiB at a time by default, and zlib gives up the GIL for
            # each piece: under load every piece then waits for the GIL to come back. The
            # GzipFile and TarFile are what tarfile.open(mode="w:gz") makes, with a bigger copy.
            with (
                gzip.GzipFile(fileobj=hashing, mode="wb", compresslevel=COMPRESS_LEVEL) as packed,
                tarfile.TarFile(fileobj=packed, mode="w", copybufsize=CHUNK) as tar,
            ):
                _add(tar, MANIFEST_NAME, io.BytesIO(document), len(document))
                for part in manifest.parts:
                    with (self._scratch / part.file).open("rb") as source:
                        _add(tar, part.file, _Reading(source, beat), part.bytes)
        return manifest, hashing.hexdigest(), hashing.size


def _add(tar: tarfile.TarFile, name: str, source: IO[bytes] | io.RawIOBase, size: int) -> None:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o600
    tar.addfile(info, source)


class _HashingWriter(io.RawIOBase):
    def __init__(self, out: IO[bytes]) -> None:
        self._out, self._hash, self.size = out, hashlib.sha256(), 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self._out.write(view)
        self._hash.update(view)
        self.size += len(view)
        return len(view)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


class _Reading(io.RawIOBase):
    """A reader that reports progress (and so heartbeats) while tar copies from it."""

    def __init__(self, source: IO[bytes], beat: Beat) -> None:
        self._source, self._beat = source, beat

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._source.read(size)
        self._beat(len(data))
        return data
