"""The in-process moving window behind the default rate-limit storage, on a fake clock."""

from __future__ import annotations

from api.core.moving_window import MovingWindows


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_caller_is_refused_while_the_limit_falls_within_the_minute() -> None:
    clock = Clock()
    windows = MovingWindows(clock=clock)
    first = windows.hit("caller/a", limit=2)
    assert (first.allowed, first.remaining, first.reset_time) == (True, 1, clock.now + 60)
    clock.now += 10
    assert windows.hit("caller/a", limit=2).remaining == 0
    refused = windows.hit("caller/a", limit=2)
    assert not refused.allowed
    assert refused.reset_time == clock.now - 10 + 60  # when the oldest hit leaves
    assert windows.hit("caller/b", limit=2).allowed  # callers count apart

    clock.now += 50  # the first hit is exactly 60 s old: still inside, as in `limits`
    assert not windows.hit("caller/a", limit=2).allowed
    clock.now += 0.001
    assert windows.hit("caller/a", limit=2).allowed


def test_a_lowered_limit_bites_at_once_and_refusals_do_not_count() -> None:
    clock = Clock()
    windows = MovingWindows(clock=clock)
    for _ in range(5):
        assert windows.hit("k", limit=100).allowed
    assert not windows.hit("k", limit=5).allowed
    assert not windows.hit("k", limit=3).allowed
    assert windows.hit("k", limit=7).remaining == 1  # 5 counted, the refusals not, +1


def test_idle_callers_are_forgotten() -> None:
    clock = Clock()
    windows = MovingWindows(clock=clock)
    windows.hit("idle", limit=5)
    clock.now += 61
    for _ in range(1024):
        windows.hit("busy", limit=10_000)
    assert set(windows._hits) == {"busy"}
