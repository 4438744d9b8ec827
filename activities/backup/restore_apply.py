"""Which parts of a verified archive a restore touches, and what it does to store tables.

Rows are matched by business key and compared batch by batch against the store, so only
new and different rows are written. In replace mode, the rows of the restored tables that
the archive lacks are deleted first (tables in reverse order, so a row goes before what
it refers to), then everything is upserted in order. Memory grows with the number of keys
of a table (replace mode only), never with its rows. Kubernetes objects: restore_kube.py.

Given a restore ID, every row written or deleted is journaled in the same transaction
(store/backup/journal.py) with its image before and after, so a failure later on can undo
exactly these rows and nothing written by anyone else.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from activities.backup.parts import ALL_PARTS, PARTS_BY_NAME, KubePart, TablePart
from activities.heartbeat import Heartbeat
from adapters.archive.format import ArchiveError, PartEntry
from adapters.archive.reader import VerifiedArchive
from store.backup import journal
from store.backup.table_dump import (
    BATCH,
    BoundTable,
    JsonRow,
    Key,
    bind,
    delete_keys,
    existing_rows,
    has_rows,
    stored_keys,
    upsert_rows,
)
from store.backup.written_rows import journal_written
from workflows.contracts.backup import (
    ALL_INCLUDES,
    BackupInclude,
    PartChange,
    RestoreMode,
    SkippedPart,
)
from workflows.contracts.common import BackupErrorType


@dataclass
class Selection:
    include: tuple[BackupInclude, ...]
    tables: list[tuple[TablePart, PartEntry]] = field(default_factory=list)
    kube: list[tuple[KubePart, PartEntry]] = field(default_factory=list)
    skipped: list[SkippedPart] = field(default_factory=list)


def select_parts(archive: VerifiedArchive, include: tuple[BackupInclude, ...] | None) -> Selection:
    """The archive's parts a restore of `include` (None: everything in it) touches."""
    held = set(archive.manifest.include)
    wanted = held if include is None else set(include)
    selection = Selection(include=tuple(i for i in ALL_INCLUDES if i in wanted & held))
    for missing in sorted(wanted - held):
        reason = "the archive was made without it"
        selection.skipped.append(SkippedPart(name=missing.value, include=missing, reason=reason))
    order = {part.name: index for index, part in enumerate(ALL_PARTS)}
    for entry in sorted(archive.manifest.parts, key=lambda e: order.get(e.name, len(order))):
        if entry.include not in wanted:
            continue
        part = PARTS_BY_NAME.get(entry.name)
        if isinstance(part, TablePart) and entry.source == "table":
            selection.tables.append((part, entry))
        elif isinstance(part, KubePart) and entry.source == "kubernetes":
            selection.kube.append((part, entry))
        else:
            reason = "this version of edgewright does not know this part"
            selection.skipped.append(
                SkippedPart(name=entry.name, include=entry.include, reason=reason)
            )
    return selection


# --- store tables --------------------------------------------------------------------


async def table_changes(
    session: AsyncSession,
    selection: Selection,
    archive: VerifiedArchive,
    *,
    mode: RestoreMode,
    heartbeat: Heartbeat,
    write: bool,
    restore_id: str | None = None,
) -> list[PartChange]:
    """Count (and with `write`, make, journaled under `restore_id`) the changes to every
    selected table."""
    bound_parts: list[tuple[BoundTable, PartEntry]] = []
    for part, entry in selection.tables:
        bound = await bind(session, part.spec)
        if isinstance(bound, str):
            selection.skipped.append(
                SkippedPart(name=part.name, include=part.include, reason=bound)
            )
        else:
            bound_parts.append((bound, entry))
    # An empty table (a store rebuilt after a disaster) has nothing to delete or compare
    # against: skip the lookups, which would otherwise cost a pass over the part.
    empty = {entry.name for bound, entry in bound_parts if not await has_rows(session, bound)}
    doomed: dict[str, list[Key]] = {}
    if mode is RestoreMode.REPLACE:
        for bound, entry in bound_parts:
            if entry.name not in empty:
                doomed[entry.name] = await _absent_keys(session, bound, archive, entry, heartbeat)
        if write:
            for bound, entry in reversed(bound_parts):
                await _delete(
                    session,
                    bound,
                    doomed.get(entry.name, []),
                    restore_id=restore_id,
                    part=entry.name,
                )
    changes = []
    for bound, entry in bound_parts:
        change = PartChange(
            name=entry.name,
            include=entry.include,
            source="table",
            delete=len(doomed.get(entry.name, ())),
        )
        if not write and entry.name in empty:
            # Every row would be created: counted, not read (applying reads them).
            rows = await heartbeat.run(archive.count, entry)
            changes.append(change.model_copy(update={"create": rows}))
            continue
        async for batch in _batches(archive, entry, heartbeat):
            fresh: list[JsonRow]
            stale: list[tuple[JsonRow, JsonRow]]
            if entry.name in empty:
                fresh, stale, same = batch, [], 0
            else:
                fresh, stale, same = await _diff(session, bound, batch, lock=write)
            if write:
                await _write(
                    session,
                    bound,
                    fresh,
                    stale,
                    restore_id=restore_id,
                    part=entry.name,
                )
            change = change.model_copy(
                update={
                    "create": change.create + len(fresh),
                    "update": change.update + len(stale),
                    "unchanged": change.unchanged + same,
                }
            )
            heartbeat.beat(stage="restore", part=entry.name, rows=change.create + change.update)
        changes.append(change)
    return changes


async def _batches(
    archive: VerifiedArchive, entry: PartEntry, heartbeat: Heartbeat
) -> AsyncIterator[list[JsonRow]]:
    """The part's rows, `BATCH` at a time."""
    rows = archive.rows(entry)
    while True:
        batch: list[JsonRow] = await heartbeat.run(list, itertools.islice(rows, BATCH))
        if not batch:
            return
        yield batch


async def _write(
    session: AsyncSession,
    bound: BoundTable,
    fresh: list[JsonRow],
    stale: list[tuple[JsonRow, JsonRow]],
    *,
    restore_id: str | None,
    part: str,
) -> None:
    """Write the rows; with a restore ID, journal them under it and the part's name."""
    await upsert_rows(session, bound, [*fresh, *(row for _, row in stale)])
    if restore_id is None:
        return
    # The rows as written, not as archived: exactly what a rollback finds if nobody else
    # writes them meanwhile (defaults, latest_wins and type round trips included).
    await journal_written(
        session,
        bound,
        restore_id=restore_id,
        part=part,
        created=[bound.key_of(row) for row in fresh],
        overwritten=[(bound.key_of(row), current) for current, row in stale],
    )


async def _delete(
    session: AsyncSession,
    bound: BoundTable,
    keys: list[Key],
    *,
    restore_id: str | None,
    part: str,
) -> None:
    if restore_id is None:
        await delete_keys(session, bound, keys)
        return
    for start in range(0, len(keys), BATCH):
        chunk = keys[start : start + BATCH]
        doomed = await existing_rows(session, bound, chunk, lock=True)
        changes = [
            journal.Change(part=part, key=key, before=row, after=None)
            for key, row in doomed.items()
        ]
        await journal.append(session, restore_id=restore_id, changes=changes)
        await delete_keys(session, bound, chunk)


async def _diff(
    session: AsyncSession, bound: BoundTable, batch: list[JsonRow], *, lock: bool
) -> tuple[list[JsonRow], list[tuple[JsonRow, JsonRow]], int]:
    """(rows to insert, (stored, to write) pairs to overwrite, number already as archived).
    `lock`: the stored rows stay as read until the transaction ends (they are the
    journal's before images)."""
    try:
        keyed = [(bound.key_of(row), row) for row in batch]
    except (KeyError, TypeError):
        raise ArchiveError(
            BackupErrorType.ARCHIVE_CORRUPT, f"a {bound.spec.table} row lacks its key"
        ) from None
    stored = await existing_rows(session, bound, [key for key, _ in keyed], lock=lock)
    fresh: list[JsonRow] = []
    stale: list[tuple[JsonRow, JsonRow]] = []
    same = 0
    for key, archived in keyed:
        current = stored.get(key)
        if current is None:
            fresh.append(archived)
            continue
        # What would be written: a revocation made since the backup is kept, not a change.
        row = bound.spec.merged(current, archived)
        if all(current.get(name) == value for name, value in row.items() if name in current):
            same += 1
        else:
            stale.append((current, row))
    return fresh, stale, same


async def _absent_keys(
    session: AsyncSession,
    bound: BoundTable,
    archive: VerifiedArchive,
    entry: PartEntry,
    heartbeat: Heartbeat,
) -> list[Key]:
    archived: set[Key] = set()
    async for batch in _batches(archive, entry, heartbeat):
        archived.update(bound.key_of(row) for row in batch)
    absent: list[Key] = []
    async for keys in stored_keys(session, bound):
        absent.extend(key for key in keys if key not in archived)
    return absent
