"""glibc takes the arena limit the API and the worker set at their start."""

from __future__ import annotations

import platform

import pytest

from adapters.malloc_arenas import limit_malloc_arenas


def test_zero_leaves_the_arenas_to_glibc() -> None:
    assert limit_malloc_arenas(0) is False


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="arenas are glibc's")
def test_glibc_takes_the_arena_limit() -> None:
    # Two arenas are plenty for the test process too.
    assert limit_malloc_arenas(2) is True
