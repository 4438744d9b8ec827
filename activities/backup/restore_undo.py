"""Undoing a failed restore from its journal: only what it changed, newest change first.

The rule for each entry is store/backup/journal.py's: put back what the restore
overwrote unless someone changed it since, in which case their change stays and the
rollback reports it. Entries are undone and marked together, in store transactions of up
to `BATCH` rows, or one object at a time, so a retried or resumed rollback carries on
where the last attempt stopped. The safety backup is never applied: it restores every row
of a part, and would lose what others wrote while the restore ran.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Executor
from itertools import groupby

from kubernetes import client
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.backup.parts import PARTS_BY_NAME, KubePart, TablePart
from activities.heartbeat import Heartbeat
from adapters.kubernetes.objects import KubeObjects
from store.backup import journal
from store.backup.journal import Entry, Outcome
from store.backup.row_undo import undo_row
from store.backup.table_dump import BATCH, BoundTable, bind
from workflows.contracts.backup import (
    MAX_KEPT_LISTED,
    BackupActivity,
    KeptChange,
    RollbackReport,
    UndoInput,
)
from workflows.contracts.common import BackupErrorType


class RestoreUndoActivities:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        kube_api: client.ApiClient | None,
        executor: Executor | None = None,
    ) -> None:
        self._sessions = sessions
        self._kube = KubeObjects(api_client=kube_api) if kube_api is not None else None
        self._executor = executor

    @activity.defn(name=BackupActivity.UNDO_RESTORE)
    async def undo_restore(self, inp: UndoInput) -> RollbackReport:
        heartbeat = Heartbeat(executor=self._executor)
        done = 0
        try:
            while True:
                async with self._sessions() as session:
                    entries = await journal.pending(session, restore_id=inp.restore_id, limit=BATCH)
                if not entries:
                    break
                for run in _runs(entries):
                    if isinstance(_part(run[0]), TablePart):
                        await self._undo_rows(run)
                    else:
                        for entry in run:
                            await self._undo_object(entry, heartbeat)
                done += len(entries)
                heartbeat.beat(stage="rollback", entries=done)
        finally:
            heartbeat.close()
        report = await self._report(inp.restore_id)
        activity.logger.info(
            "undid restore %s: %d restored, %d unchanged, %d kept",
            inp.restore_id,
            report.restored,
            report.unchanged,
            report.kept,
        )
        return report

    async def _undo_rows(self, entries: list[Entry]) -> None:
        async with self._sessions() as session, session.begin():
            bound: dict[str, BoundTable] = {}
            for entry in entries:
                if entry.part not in bound:
                    bound[entry.part] = await _bind(session, entry)
                await undo_row(session, bound[entry.part], entry)

    async def _undo_object(self, entry: Entry, heartbeat: Heartbeat) -> None:
        if self._kube is None:
            raise ApplicationError(
                f"the restore changed {entry.part} objects and no Kubernetes API is "
                "configured for this worker",
                type=BackupErrorType.RESTORE_CONFLICT,
                non_retryable=True,
            )
        part = _part(entry)
        assert isinstance(part, KubePart)
        outcome = await heartbeat.run(undo_object, self._kube, part, entry)
        async with self._sessions() as session, session.begin():
            await journal.settle(session, entry_id=entry.entry_id, outcome=outcome)

    async def _report(self, restore_id: str) -> RollbackReport:
        async with self._sessions() as session:
            counts = await journal.outcomes(session, restore_id=restore_id)
            kept = await journal.kept(session, restore_id=restore_id, limit=MAX_KEPT_LISTED)
        return RollbackReport(
            restored=counts.get(Outcome.RESTORED, 0),
            unchanged=counts.get(Outcome.UNCHANGED, 0),
            kept=counts.get(Outcome.KEPT, 0),
            kept_changes=[KeptChange(part=c.part, key=list(c.key)) for c in kept],
        )


def _part(entry: Entry) -> TablePart | KubePart:
    part = PARTS_BY_NAME.get(entry.part)
    if part is None:
        raise ApplicationError(
            f"the restore journal names part {entry.part!r}, which this version does not know",
            type=BackupErrorType.RESTORE_CONFLICT,
            non_retryable=True,
        )
    return part


async def _bind(session: AsyncSession, entry: Entry) -> BoundTable:
    part = _part(entry)
    assert isinstance(part, TablePart)
    bound = await bind(session, part.spec)
    if isinstance(bound, str):
        raise ApplicationError(bound, type=BackupErrorType.RESTORE_CONFLICT, non_retryable=True)
    return bound


def undo_object(kube: KubeObjects, part: KubePart, entry: Entry) -> Outcome:
    """Blocking: one object back as the journal says (run it in the thread pool)."""
    namespace, name = entry.key
    current = kube.read_owned(part.kind, namespace=namespace, name=name)
    outcome = journal.decide(current, entry)
    if outcome is not None:
        return outcome
    try:
        if entry.before is None:
            kube.delete(part.kind, namespace=namespace, name=name)
        else:
            kube.apply(part.kind, entry.before)
    except ApplicationError as error:
        # Someone else's object took the name meanwhile: theirs stays.
        if error.type == BackupErrorType.RESTORE_CONFLICT:
            return Outcome.KEPT
        raise
    return Outcome.RESTORED


def _runs(entries: list[Entry]) -> Iterator[list[Entry]]:
    """Consecutive entries of tables, and of objects, in journal order."""
    for _, run in groupby(entries, key=lambda e: isinstance(_part(e), TablePart)):
        yield list(run)
