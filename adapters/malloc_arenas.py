"""How many glibc malloc arenas a process's threads share.

glibc gives threads that allocate at the same time arenas of their own, up to 8 per
core, and an arena keeps what was freed in it. Call `limit_malloc_arenas` before the
process starts threads: arenas already made are kept.

- The API: each pooled SQLite connection has a thread of its own, which builds the rows
  it reads. After reading the whole device list a few times, the API kept 148-150 MB
  resident with glibc's arenas and 138-140 MB with two (two pairs of runs of
  bench/api_reads.py, SQLite): two is the API's default (EDGEWRIGHT_API_MALLOC_ARENA_MAX).
- The worker runs over a hundred threads under a batch join (64 activity threads, and the
  Temporal core's Rust threads, which come and go): 3,000 devices into a 10,000-device
  batch join, the extra arenas were 84 MB of its 365 MB resident (/proc/PID/smaps,
  bench/batch_join.py). Capped at 2, the same allocations went to the main heap instead,
  and one pair of runs did not settle whether the peak is lower: the worker's cap is
  opt-in (EDGEWRIGHT_WORKER_MALLOC_ARENA_MAX, docs/scaling.md "Worker memory").
"""

from __future__ import annotations

import ctypes
import logging

log = logging.getLogger("edgewright")

# mallopt's parameter number for the arena limit (glibc's malloc.h).
M_ARENA_MAX = -8


def limit_malloc_arenas(count: int) -> bool:
    """Cap glibc's arenas at `count` (0 leaves glibc's default); False when not applied.

    Call it before the process starts threads: arenas already made are kept.
    """
    if count <= 0:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS): no arenas to cap
        log.info("no glibc mallopt: malloc arenas left as they are")
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, count))
