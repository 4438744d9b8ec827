"""Memory figures of a benchmark's processes, and py-spy profiles of them on request.

`--profile DIR` on a benchmark records each measured phase of the API or worker with
`py-spy record --format raw` (collapsed stacks: one line per stack and its sample count),
which flamegraph.pl or speedscope read; py-spy is in the dev dependency group.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def status_mb(pid: int, field: str) -> float | None:
    """A `/proc/PID/status` memory field (VmRSS, VmHWM) in MB; None once the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def memory_mb(pid: int) -> dict[str, float | None]:
    """The process's resident memory now and at its peak, in MB."""
    return {"rss_mb": status_mb(pid, "VmRSS"), "peak_rss_mb": status_mb(pid, "VmHWM")}


def _py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise RuntimeError("py-spy is missing: it is in the dev dependency group (make venv)")
    return found


@contextmanager
def profiled(pid: int, *, into: Path | None, name: str) -> Iterator[None]:
    """Sample `pid` with py-spy while the block runs (nothing when `into` is None)."""
    if into is None:
        yield
        return
    into.mkdir(parents=True, exist_ok=True)
    command = [_py_spy(), "record", "--pid", str(pid), "--rate", "100", "--format", "raw"]
    command += ["--output", str(into / f"{name}.txt"), "--nonblocking"]
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        spy.wait(timeout=60)
