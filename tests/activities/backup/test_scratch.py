"""Backup scratch space: a private directory, under a root created private if missing."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.backup.common import scratch_dir
from activities.heartbeat import Heartbeat
from tests.support.modes import mode


@pytest.mark.usefixtures("usual_umask")
async def test_scratch_space_is_private(tmp_path: Path) -> None:
    under = tmp_path / "scratch-root"

    async def use_scratch() -> tuple[int, int]:
        async with scratch_dir(Heartbeat(executor=None), under=under) as path:
            return mode(under), mode(path)

    assert await ActivityEnvironment().run(use_scratch) == (0o700, 0o700)
