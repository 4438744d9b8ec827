"""The retry policy's arithmetic and the CLI's `-o` anywhere on the line."""

from __future__ import annotations

from kubeedge_cloudcore import RetryPolicy
from kubeedge_cloudcore.cli.app import hoist_output


def test_retry_after_is_honoured_up_to_the_policys_patience() -> None:
    policy = RetryPolicy(max_retries=2, backoff=1.0, max_backoff=4.0, max_retry_after=10)
    assert policy.delay(0, 3.0) == 3.0
    assert policy.delay(0, 30.0) is None  # longer than it will wait: raise at once
    assert policy.delay(2, 1.0) is None  # out of retries
    assert 0.5 <= (policy.delay(0, None) or 0) <= 1.0
    assert 1.0 <= (policy.delay(1, None) or 0) <= 2.0  # doubled, with jitter


def test_the_output_option_moves_to_the_front() -> None:
    assert hoist_output(["devices", "list", "-o", "json"]) == ["-o", "json", "devices", "list"]
    assert hoist_output(["backup", "list", "--output=yaml"]) == ["--output=yaml", "backup", "list"]
    assert hoist_output(["command", "send", "d", "c", "--", "-o"]) == [
        "command",
        "send",
        "d",
        "c",
        "--",
        "-o",
    ]
