"""Export what a backup includes into an ArchiveWriter, part by part, in bounded memory.

Store tables are read in one transaction (one consistent state of all of them, see
store.backup.table_dump.begin_snapshot) and streamed in batches; Kubernetes objects are listed a
page at a time in the thread pool. Every batch heartbeats.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.backup.parts import KUBE_PARTS, TABLE_PARTS, KubePart, TablePart
from activities.heartbeat import Heartbeat
from adapters.archive.writer import ArchiveWriter, PartWriter
from adapters.kubernetes.objects import KubeObjects
from store.backup.json_text import spliced
from store.backup.table_dump import BoundTable, archive_line, begin_snapshot, bind, export_rows
from store.settings import Settings
from workflows.contracts.backup import BackupInclude, PartSummary, SkippedPart


async def export_parts(
    *,
    writer: ArchiveWriter,
    include: tuple[BackupInclude, ...],
    sessions: async_sessionmaker[AsyncSession],
    kube: KubeObjects | None,
    settings: Settings,
    heartbeat: Heartbeat,
) -> list[PartSummary]:
    summaries: list[PartSummary] = []
    tables = [part for part in TABLE_PARTS if part.include in include]
    async with sessions() as session, session.begin():
        await begin_snapshot(session)
        for table_part in tables:
            summary = await _export_table(session, table_part, writer, heartbeat)
            if summary is not None:
                summaries.append(summary)
    for kube_part in (part for part in KUBE_PARTS if part.include in include):
        if kube is None:
            writer.skip(_skipped(kube_part, "no Kubernetes API is configured for this worker"))
            continue
        namespace = kube_part.namespace_in(settings)
        summaries.append(
            await heartbeat.run(
                _export_kube, kube, kube_part, namespace=namespace, writer=writer, hb=heartbeat
            )
        )
    return summaries


async def _export_table(
    session: AsyncSession, part: TablePart, writer: ArchiveWriter, heartbeat: Heartbeat
) -> PartSummary | None:
    bound = await bind(session, part.spec)
    if isinstance(bound, str):
        writer.skip(_skipped(part, bound))
        return None
    out: PartWriter = await heartbeat.run(
        writer.open_part,
        name=part.name,
        include=part.include,
        source="table",
        table=part.spec.table,
        key=list(part.spec.key),
        columns=list(bound.column_names),
    )
    rows = 0
    line = archive_line(session, bound)
    async for batch in export_rows(session, bound, line=line):
        # Written (and made JSON where the database did not) in the thread pool: the event
        # loop keeps serving heartbeats.
        await heartbeat.run(_write_rows, out, bound, batch, made=line is not None)
        rows += len(batch)
        heartbeat.beat(stage="export", part=part.name, rows=rows)
    summary: PartSummary = await heartbeat.run(writer.add, out)
    return summary


def _write_rows(out: PartWriter, bound: BoundTable, batch: Sequence[Any], *, made: bool) -> None:
    if made:
        out.write_lines([row[0] for row in batch])
    else:
        out.write_lines([spliced(bound.to_json(row), bound.json_columns) for row in batch])


def _export_kube(
    kube: KubeObjects, part: KubePart, *, namespace: str, writer: ArchiveWriter, hb: Heartbeat
) -> PartSummary:
    out = writer.open_part(
        name=part.name,
        include=part.include,
        source="kubernetes",
        kind=part.kind.kind,
        apiVersion=part.kind.api_version,
        namespace=namespace,
    )
    for page in kube.list_owned(part.kind, namespace=namespace):
        mine = sorted((obj for obj in page if part.holds(obj)), key=lambda o: o["metadata"]["name"])
        out.write(mine)
        hb.beat(stage="export", part=part.name, rows=out.count)
    return writer.add(out)


def _skipped(part: TablePart | KubePart, reason: str) -> SkippedPart:
    return SkippedPart(name=part.name, include=part.include, reason=reason)
