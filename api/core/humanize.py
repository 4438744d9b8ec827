"""Durations as `kubectl` users read them ("45s", "12m", "5h", "2d"), and sizes as the
CloudCore document writes them ("45MB")."""

from __future__ import annotations

from datetime import datetime


def age(since: datetime | None, *, now: datetime) -> str | None:
    """How long ago `since` was, in the largest whole unit up to days; None when unknown."""
    if since is None:
        return None
    seconds = max(0, int((now - since).total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


_UNITS = ("B", "KB", "MB", "GB", "TB")


def human_size(size: int | None) -> str | None:
    """The seed's style ("45MB"), in 1024 steps, one decimal below 10."""
    if size is None:
        return None
    value, unit = float(size), 0
    while value >= 1024 and unit < len(_UNITS) - 1:
        value, unit = value / 1024, unit + 1
    text = f"{value:.1f}" if value < 10 and unit else f"{value:.0f}"
    return f"{text.removesuffix('.0')}{_UNITS[unit]}"
