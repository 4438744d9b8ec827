"""How often a cron line can fire, as the schedule checks read it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from workflows.contracts.backup import cron_shortest_gap

MINUTE = timedelta(minutes=1)


@pytest.mark.parametrize(
    ("line", "gap"),
    [
        ("0 2 * * *", 24 * 60 * MINUTE),
        ("* * * * *", MINUTE),
        ("*/5 * * * *", 5 * MINUTE),
        ("0-59/7 * * * *", 4 * MINUTE),  # :56, then :00 of the next hour
        ("5/15 * * * *", 15 * MINUTE),
        ("0,30 9-17 * * MON-FRI", 30 * MINUTE),
        ("0 0,23 * * *", 60 * MINUTE),
        ("59 23 1 * *", 24 * 60 * MINUTE),
        ("@hourly", 60 * MINUTE),
        ("@daily", 24 * 60 * MINUTE),
    ],
)
def test_shortest_gap(line: str, gap: timedelta) -> None:
    assert cron_shortest_gap(line) == gap


@pytest.mark.parametrize(
    "line", ["@every 1s", "* * * * * *", "* * * * * * *", "60 * * * *", "*/0 * * * *", "x * * * *"]
)
def test_lines_we_do_not_read_are_none(line: str) -> None:
    assert cron_shortest_gap(line) is None
