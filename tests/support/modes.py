"""File-mode checks: what a process creates under the usual umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """umask 022, as a login shell has: what the code sets must not depend on a stricter one."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)
