"""A live progress bar for runs the CLI follows (jobs, rollouts, backups, restores)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from .output import stderr


class Bar:
    def __init__(self, progress: Progress, task: TaskID) -> None:
        self._progress = progress
        self._task = task

    def show(self, *, done: float, total: float | None, note: str) -> None:
        self._progress.update(self._task, completed=done, total=total, note=note)


@contextmanager
def progress_bar(title: str) -> Iterator[Bar]:
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[note]}"),
    )
    with Progress(*columns, console=stderr, transient=False) as progress:
        yield Bar(progress, progress.add_task(title, total=None, note=""))
