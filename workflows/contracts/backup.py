"""Backup and restore: BackupWorkflow, RestoreWorkflow, their activities and schedules."""

from __future__ import annotations

import itertools
import re
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    Field,
    StringConstraints,
    model_validator,
)
from temporalio import activity
from temporalio.client import (
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
)

from workflows.contracts.common import ContractModel, ShortText

BACKUP_WORKFLOW = "BackupWorkflow"


RESTORE_WORKFLOW = "RestoreWorkflow"


BACKUP_PROGRESS_QUERY = "backup_progress"


RESTORE_PROGRESS_QUERY = "restore_progress"


# The archive layout this code writes. It reads this version and every older one, and
# refuses newer ones: it cannot know what a later layout means.
BACKUP_FORMAT = "edgewright-backup"


BACKUP_FORMAT_VERSION = 1


BACKUP_SCHEDULE_PREFIX = "backup-schedule/"


SCHEDULED_BACKUP_PREFIX = "scheduled-"


SAFETY_BACKUP_PREFIX = "safety-"


# Backup and restore IDs become workflow IDs, object keys and file names: keep them plain.
BackupId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]


ScheduleId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]


_UNSAFE_ID_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]")


class BackupInclude(StrEnum):
    """What a backup may hold; the seed's `include` values plus commands and workloads."""

    CONFIG = "config"
    TOKENS = "tokens"  # archived as their hashes only: the tokens themselves are never stored
    DEVICES = "devices"  # inventory rows and their Kubernetes objects
    COMMANDS = "commands"
    WORKLOADS = "workloads"


ALL_INCLUDES: tuple[BackupInclude, ...] = tuple(BackupInclude)


class BackupKind(StrEnum):
    MANUAL = "manual"
    SCHEDULED = "scheduled"
    SAFETY = "safety"  # taken by a restore just before it changes anything


class BackupStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    PRUNED = "pruned"  # completed, then removed from storage by retention


class RestoreMode(StrEnum):
    MERGE = "merge"  # upsert the archive's rows and objects, leave everything else alone
    REPLACE = "replace"  # also delete rows and objects of the restored parts the archive lacks


class RestoreStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"  # refused or failed before anything changed
    ROLLED_BACK = "rolled_back"  # applying failed; what it had changed was undone
    CANCELLED = "cancelled"


class BackupActivity(StrEnum):
    CREATE_BACKUP_ARCHIVE = "create_backup_archive"  # export → archive → upload
    VERIFY_BACKUP_ARCHIVE = "verify_backup_archive"
    DISCARD_BACKUP_ARCHIVE = "discard_backup_archive"
    RECORD_BACKUP = "record_backup"
    PRUNE_BACKUPS = "prune_backups"
    INSPECT_BACKUP = "inspect_backup"  # download → verify → plan
    APPLY_BACKUP = "apply_backup"
    RECORD_RESTORE = "record_restore"
    UNDO_RESTORE = "undo_restore"  # a failed restore's journal, undone newest first


def backup_workflow_id(backup_id: str) -> str:
    return f"backup/{backup_id}"


def restore_workflow_id(restore_id: str) -> str:
    return f"restore/{restore_id}"


def backup_id_from_workflow_id(workflow_id: str) -> str:
    """The backup ID a run works on. Schedules append a timestamp to the action's ID
    (`backup/scheduled-default-2026-01-15T02:00:00Z`); its colons are dropped."""
    return _UNSAFE_ID_CHARACTERS.sub("", workflow_id.removeprefix("backup/"))


def safety_backup_id(restore_id: str) -> str:
    return f"{SAFETY_BACKUP_PREFIX}{restore_id}"


def backup_schedule_temporal_id(schedule_id: str) -> str:
    return f"{BACKUP_SCHEDULE_PREFIX}{schedule_id}"


class Retention(ContractModel):
    """Keep a backup while any rule keeps it (restic's `--keep-last` / `--keep-within`)."""

    keep_last: int = Field(
        default=0, ge=0, le=100_000, description="the newest N; 0: no count rule"
    )
    keep_days: float = Field(
        default=0, ge=0, le=36_500, description="younger than N days; 0: no age rule"
    )

    @property
    def prunes(self) -> bool:
        return bool(self.keep_last or self.keep_days)


class BackupInput(ContractModel):
    """The backup ID is not here: it follows from the workflow ID (`backup/{backup_id}`)."""

    kind: BackupKind = BackupKind.MANUAL
    include: tuple[BackupInclude, ...] = ALL_INCLUDES
    description: ShortText | None = None
    retention: Retention = Retention()
    requested_by: str | None = None
    # sha256 of the request: the same name with another body is a conflict, not a re-run.
    fingerprint: str | None = None
    schedule_id: str | None = None


class PartSummary(ContractModel):
    name: str
    include: BackupInclude
    source: Literal["table", "kubernetes"]
    count: int
    bytes: int
    sha256: str


class SkippedPart(ContractModel):
    name: str
    include: BackupInclude
    reason: str


class CreateArchiveInput(ContractModel):
    backup_id: BackupId
    kind: BackupKind
    include: tuple[BackupInclude, ...]
    description: str | None = None
    created_at: datetime


class ArchiveInfo(ContractModel):
    """An archive as it landed in object storage."""

    backup_id: BackupId
    location: str
    size_bytes: int
    sha256: str
    format_version: int
    multipart: bool = False
    parts: list[PartSummary] = Field(default_factory=list)
    skipped: list[SkippedPart] = Field(default_factory=list)


class ArchiveRef(ContractModel):
    backup_id: BackupId
    location: str | None = None  # None: where the configured location would put it
    size_bytes: int | None = None
    sha256: str | None = None


class BackupRecordInput(ContractModel):
    backup_id: BackupId
    kind: BackupKind
    status: BackupStatus
    include: tuple[BackupInclude, ...]
    description: str | None = None
    workflow_id: str
    created_at: datetime
    completed_at: datetime | None = None
    archive: ArchiveInfo | None = None
    error: str | None = None
    schedule_id: str | None = None


class PruneInput(ContractModel):
    """Retention counts the backups of one kind, and of one schedule for scheduled ones."""

    kind: BackupKind
    schedule_id: str | None = None
    retention: Retention
    now: datetime
    keep: list[str] = Field(default_factory=list)  # never pruned (the backup just made)


class PruneResult(ContractModel):
    pruned: list[str] = Field(default_factory=list)


class BackupProgress(ContractModel):
    """What a backup run says about itself: the progress query and its result."""

    backup_id: str
    kind: BackupKind
    status: BackupStatus
    stage: str
    include: tuple[BackupInclude, ...]
    description: str | None = None
    fingerprint: str | None = None
    workflow_id: str
    created_at: datetime
    completed_at: datetime | None = None
    archive: ArchiveInfo | None = None
    pruned: list[str] = Field(default_factory=list)
    prune_error: str | None = None
    error_type: str | None = None
    error: str | None = None


class PartChange(ContractModel):
    """What a restore does (or, in a dry run, would do) to one part."""

    name: str
    include: BackupInclude
    source: Literal["table", "kubernetes"]
    create: int = 0
    update: int = 0
    unchanged: int = 0
    delete: int = 0


class RestoreInput(ContractModel):
    backup_id: BackupId
    dry_run: bool = False
    mode: RestoreMode = RestoreMode.MERGE
    include: tuple[BackupInclude, ...] | None = None  # None: every part the archive holds
    safety_retention: Retention = Retention()
    requested_by: str | None = None
    fingerprint: str | None = None


class InspectInput(ContractModel):
    backup_id: BackupId
    include: tuple[BackupInclude, ...] | None = None
    mode: RestoreMode = RestoreMode.MERGE


class RestorePlan(ContractModel):
    """A verified archive and the changes restoring it would make right now."""

    backup_id: str
    location: str
    sha256: str
    size_bytes: int
    format_version: int
    archive_created_at: datetime
    include: tuple[BackupInclude, ...]
    changes: list[PartChange] = Field(default_factory=list)
    skipped: list[SkippedPart] = Field(default_factory=list)


class ApplyInput(ContractModel):
    backup_id: BackupId
    location: str
    sha256: str  # the bytes verified before: an archive changed since is refused
    include: tuple[BackupInclude, ...]
    mode: RestoreMode
    # Journal every change under this restore, so a failure can undo exactly those.
    restore_id: str | None = None


class ApplyResult(ContractModel):
    changes: list[PartChange] = Field(default_factory=list)


class UndoInput(ContractModel):
    restore_id: str


# A rollback lists at most this many kept changes (it counts them all): history stays small.
MAX_KEPT_LISTED = 100


class KeptChange(ContractModel):
    """A change of the restore that a rollback left alone: someone changed it since."""

    part: str
    key: list[str | int]


class RollbackReport(ContractModel):
    """What undoing a failed restore did, entry by entry of its journal."""

    restored: int = 0  # put back as it was before the restore
    unchanged: int = 0  # already as before (never written, or undone by an earlier try)
    kept: int = 0  # changed by someone else after the restore wrote it: left as they left it
    kept_changes: list[KeptChange] = Field(default_factory=list)


class RestoreProgress(ContractModel):
    restore_id: str
    backup_id: str
    status: RestoreStatus
    stage: str
    dry_run: bool
    mode: RestoreMode
    fingerprint: str | None = None
    workflow_id: str
    started_at: datetime
    finished_at: datetime | None = None
    plan: RestorePlan | None = None
    applied: list[PartChange] = Field(default_factory=list)
    safety_backup_id: str | None = None
    rolled_back: bool = False
    rollback: RollbackReport | None = None
    error_type: str | None = None
    error: str | None = None


MAX_INTERVAL_SECONDS = 366 * 24 * 3600


class BackupScheduleConfig(ContractModel):
    """A backup schedule as operators see it: when, what, and how long to keep.

    The model reads whatever a schedule holds; what a new schedule may be (how often it
    runs, whether it prunes) is `schedule_problems`, since the interval floor is set by
    configuration.
    """

    cron: str | None = Field(
        default=None, max_length=200, description="UTC cron line: 5 fields, or @hourly, @daily..."
    )
    interval_seconds: int | None = Field(default=None, ge=1, le=MAX_INTERVAL_SECONDS)
    include: tuple[BackupInclude, ...] = ALL_INCLUDES
    retention: Retention = Retention()
    keep_forever: bool = Field(
        default=False,
        description="Keep every backup of this schedule: the explicit opt-in a retention "
        "without rules needs",
    )
    paused: bool = False
    note: ShortText | None = None

    @model_validator(mode="after")
    def _one_trigger(self) -> BackupScheduleConfig:
        if (self.cron is None) == (self.interval_seconds is None):
            raise ValueError("give exactly one of cron and interval_seconds")
        return self


def schedule_problems(config: BackupScheduleConfig, *, min_interval_seconds: int) -> dict[str, str]:
    """Why a new schedule is refused, by field; empty when it is fine.

    A schedule firing every second with no retention fills a disk within hours, so runs
    must be `min_interval_seconds` apart, and keeping every backup must be asked for.
    """
    problems: dict[str, str] = {}
    if config.interval_seconds is not None and config.interval_seconds < min_interval_seconds:
        problems["interval_seconds"] = f"must be at least {min_interval_seconds} seconds"
    if config.cron is not None:
        gap = cron_shortest_gap(config.cron)
        if gap is None:
            problems["cron"] = (
                "must have 5 fields (minute hour day-of-month month day-of-week; minute and "
                "hour as numbers, ranges, lists and steps) or be one of "
                + ", ".join(sorted(_CRON_MACROS))
                + "; for an interval use interval_seconds"
            )
        elif gap < timedelta(seconds=min_interval_seconds):
            seconds = int(gap.total_seconds())
            problems["cron"] = (
                f"fires as often as every {seconds} seconds; runs must be at least "
                f"{min_interval_seconds} seconds apart"
            )
    if config.keep_forever and config.retention.prunes:
        problems["keep_forever"] = "cannot be true while retention has keep_last or keep_days"
    if not config.keep_forever and not config.retention.prunes:
        problems["retention"] = (
            "keeps every backup: set keep_last or keep_days, or keep_forever: true to keep "
            "them all on purpose"
        )
    return problems


_CRON_MACROS = {
    "@yearly": timedelta(days=365),
    "@annually": timedelta(days=365),
    "@monthly": timedelta(days=28),
    "@weekly": timedelta(days=7),
    "@daily": timedelta(days=1),
    "@midnight": timedelta(days=1),
    "@hourly": timedelta(hours=1),
}
_CRON_ITEM = re.compile(r"(\*|\d{1,2}(?:-\d{1,2})?)(?:/(\d{1,2}))?")


def cron_shortest_gap(line: str) -> timedelta | None:
    """The shortest time between two runs of a 5-field cron line, or None when the line
    is not one we read. Days are taken as all allowed, which can only make gaps shorter
    than they really are: a line accepted here never runs more often."""
    text = line.strip()
    if text in _CRON_MACROS:
        return _CRON_MACROS[text]
    fields = text.split()
    if len(fields) != 5:
        return None
    minutes, hours = _cron_values(fields[0], 59), _cron_values(fields[1], 23)
    if not minutes or not hours:
        return None
    day = sorted(hour * 60 + minute for hour in hours for minute in minutes)
    gaps = [later - earlier for earlier, later in itertools.pairwise(day)]
    gaps.append(day[0] + 24 * 60 - day[-1])  # the last run of a day to the next day's first
    return timedelta(minutes=min(gaps))


def _cron_values(field: str, highest: int) -> set[int] | None:
    values: set[int] = set()
    for item in field.split(","):
        match = _CRON_ITEM.fullmatch(item)
        if match is None:
            return None
        span, step_text = match.groups()
        if span == "*":
            first, last = 0, highest
        else:
            bounds = [int(part) for part in span.split("-")]
            first, last = bounds[0], bounds[-1]
            if step_text is not None and len(bounds) == 1:
                last = highest  # "5/15": from 5 on, every 15
        step = int(step_text) if step_text is not None else 1
        if not 0 <= first <= last <= highest or step < 1:
            return None
        values.update(range(first, last + 1, step))
    return values


# Memo keys on a schedule's action: the configuration fingerprint the worker last applied,
# and the schedule as operators wrote it (Temporal answers cron lines as calendars).
SCHEDULE_CONFIG_MEMO = "edgewright_config_fingerprint"


SCHEDULE_SPEC_MEMO = "edgewright_schedule"


def backup_schedule(
    config: BackupScheduleConfig,
    *,
    schedule_id: str,
    task_queue: str,
    config_fingerprint: str | None = None,
) -> Schedule:
    """The Temporal Schedule for `config`; shared by the worker's bootstrap and the API."""
    if config.interval_seconds is not None:
        spec = ScheduleSpec(
            intervals=[ScheduleIntervalSpec(every=timedelta(seconds=config.interval_seconds))]
        )
    else:
        spec = ScheduleSpec(cron_expressions=[config.cron or ""])
    action = ScheduleActionStartWorkflow(
        BACKUP_WORKFLOW,
        BackupInput(
            kind=BackupKind.SCHEDULED,
            include=config.include,
            retention=config.retention,
            schedule_id=schedule_id,
            requested_by=f"schedule {schedule_id}",
        ),
        # Temporal appends the scheduled time, so each run gets its own backup ID.
        id=backup_workflow_id(f"{SCHEDULED_BACKUP_PREFIX}{schedule_id}"),
        task_queue=task_queue,
        execution_timeout=timedelta(days=1),
        # What the Temporal UI lists each scheduled run as (workflows.contracts.summaries
        # imports this module, so the words are here).
        static_summary=f"Scheduled backup ({schedule_id})",
        memo={
            SCHEDULE_SPEC_MEMO: config.model_dump(mode="json"),
            **({SCHEDULE_CONFIG_MEMO: config_fingerprint} if config_fingerprint else {}),
        },
    )
    return Schedule(
        action=action,
        spec=spec,
        # A backup still running when the next one is due: skip the new one.
        policy=SchedulePolicy(
            overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(hours=1)
        ),
        state=ScheduleState(paused=config.paused, note=config.note),
    )


# --- Activities the workflows call, as typed references ---
# Workflows may not import activities/ (I/O libraries), so they call these stubs: mypy
# checks each call's argument and result. tests/workers/test_activity_stubs.py checks
# them against what workers/worker.py registers under the same names.
@activity.defn(name=BackupActivity.CREATE_BACKUP_ARCHIVE)
async def create_backup_archive(inp: CreateArchiveInput) -> ArchiveInfo:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=BackupActivity.VERIFY_BACKUP_ARCHIVE)
async def verify_backup_archive(inp: ArchiveRef) -> None:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=BackupActivity.DISCARD_BACKUP_ARCHIVE)
async def discard_backup_archive(inp: ArchiveRef) -> None:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=BackupActivity.RECORD_BACKUP)
async def record_backup(inp: BackupRecordInput) -> None:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=BackupActivity.PRUNE_BACKUPS)
async def prune_backups(inp: PruneInput) -> PruneResult:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=BackupActivity.INSPECT_BACKUP)
async def inspect_backup(inp: InspectInput) -> RestorePlan:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=BackupActivity.APPLY_BACKUP)
async def apply_backup(inp: ApplyInput) -> ApplyResult:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=BackupActivity.RECORD_RESTORE)
async def record_restore(inp: RestoreProgress) -> None:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=BackupActivity.UNDO_RESTORE)
async def undo_restore(inp: UndoInput) -> RollbackReport:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError
