"""Restoring the Kubernetes objects of a part (blocking: run it in the thread pool).

Existing objects are listed once per namespace and compared with the archive by a digest
of their desired state, so only missing and different objects are written (create, or
adopt and patch). Only objects carrying our labels are ever read back, written or deleted.

With a `journal`, each object is journaled (as it is, and as the restore will leave it)
just before it is written or deleted: a crash between the two leaves an entry whose
object is still as before, which undoing recognises and leaves alone.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from activities.backup.parts import KubePart
from activities.heartbeat import Heartbeat
from adapters.archive.format import ArchiveError, PartEntry
from adapters.archive.reader import VerifiedArchive
from adapters.kubernetes.objects import KubeObjects, desired_state, is_ours
from store.backup.journal import Change
from workflows.contracts.backup import PartChange, RestoreMode
from workflows.contracts.common import BackupErrorType


def kube_changes(
    kube: KubeObjects,
    part: KubePart,
    entry: PartEntry,
    archive: VerifiedArchive,
    *,
    namespaces: set[str],
    mode: RestoreMode,
    heartbeat: Heartbeat,
    write: bool,
    journal: Callable[[Change], None] | None = None,
) -> PartChange:
    archived_in = _checked_namespaces(part, entry, archive)
    existing: dict[tuple[str, str], str] = {}
    for namespace in sorted(namespaces | archived_in):
        for page in kube.list_owned(part.kind, namespace=namespace):
            for obj in page:
                if part.holds(obj):
                    existing[_ref(obj)] = _digest(obj)
            heartbeat.beat(stage="restore", part=entry.name)
    seen: set[tuple[str, str]] = set()
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for obj in archive.rows(entry):
        body = desired_state(part.kind, obj)
        ref = _ref(body)
        seen.add(ref)
        if existing.get(ref) == _digest(body):
            counts["unchanged"] += 1
            continue
        if write:
            if journal is not None:
                journal(_change(kube, part, ref, after=body))
            counts[kube.apply(part.kind, body)] += 1
        else:
            counts["created" if ref not in existing else "updated"] += 1
        heartbeat.beat(stage="restore", part=entry.name, objects=len(seen))
    doomed = [ref for ref in existing if ref not in seen] if mode is RestoreMode.REPLACE else []
    if write:
        for namespace, name in doomed:
            if journal is not None:
                journal(_change(kube, part, (namespace, name), after=None))
            kube.delete(part.kind, namespace=namespace, name=name)
    return PartChange(
        name=entry.name,
        include=entry.include,
        source="kubernetes",
        create=counts["created"],
        update=counts["updated"],
        unchanged=counts["unchanged"],
        delete=len(doomed),
    )


def _change(
    kube: KubeObjects, part: KubePart, ref: tuple[str, str], *, after: dict[str, Any] | None
) -> Change:
    namespace, name = ref
    before = kube.read_owned(part.kind, namespace=namespace, name=name)
    return Change(part=part.name, key=ref, before=before, after=after)


def _checked_namespaces(part: KubePart, entry: PartEntry, archive: VerifiedArchive) -> set[str]:
    """Where the archived objects go; refuses objects that are not ours or not this part's,
    since a restore must never become a way to write arbitrary objects into the cluster."""
    namespaces = set()
    for obj in archive.rows(entry):
        meta = obj.get("metadata") or {}
        if not (is_ours(obj) and part.holds(obj) and meta.get("name") and meta.get("namespace")):
            raise ArchiveError(
                BackupErrorType.ARCHIVE_CORRUPT,
                f"part {entry.name!r} holds an object edgewright does not own",
            )
        namespaces.add(str(meta["namespace"]))
    return namespaces


def _ref(obj: dict[str, Any]) -> tuple[str, str]:
    meta = obj["metadata"]
    return str(meta["namespace"]), str(meta["name"])


def _digest(obj: dict[str, Any]) -> str:
    canonical = json.dumps(obj, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
