"""Undoing one journal entry of a store table (the rule is in store/backup/journal.py)."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncSession

from store.backup.journal import Entry, Outcome, decide, settle
from store.backup.table_dump import BoundTable, delete_keys, existing_rows, upsert_rows
from store.backup.written_rows import canonical


async def undo_row(session: AsyncSession, bound: BoundTable, entry: Entry) -> Outcome:
    """Undo `entry` and mark it, in the caller's transaction: both happen, or neither."""
    # Locked, so nobody changes the row between this comparison and the write.
    found = await existing_rows(session, bound, [entry.key], lock=True)
    # Images the database made are in its own forms (store/backup/written_rows.py).
    before, after = canonical(bound, entry.before), canonical(bound, entry.after)
    outcome = decide(found.get(entry.key), replace(entry, before=before, after=after))
    if outcome is None:
        if entry.before is None:
            await delete_keys(session, bound, [entry.key])
        else:
            # As in a restore, a revocation or use recorded since stays (latest_wins).
            await upsert_rows(session, bound, [entry.before])
        outcome = Outcome.RESTORED
    await settle(session, entry_id=entry.entry_id, outcome=outcome)
    return outcome
