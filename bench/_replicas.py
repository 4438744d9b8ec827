"""Named processes a benchmark can SIGKILL and start again, with the CPU each one used.

A killed process takes its CPU counters with it, so its CPU time is read just before the
kill and kept: `cpu()` is what every incarnation of a name used since `mark_cpu()`.
"""

from __future__ import annotations

import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from bench._stack import cpu_seconds


@dataclass
class _Entry:
    command: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    spent: float = 0.0  # CPU seconds of earlier incarnations since the mark
    baseline: float = 0.0  # the running incarnation's CPU seconds at the mark


@dataclass
class Processes:
    logs: Path
    _entries: dict[str, _Entry] = field(default_factory=dict)

    def start(
        self, name: str, command: list[str] | None = None, *, env: dict[str, str] | None = None
    ) -> int:
        """Start `name` (again, with its first command and environment when none is given)."""
        entry = self._entries.get(name)
        if entry is None:
            if command is None or env is None:
                raise ValueError(f"{name} was never started: give its command and environment")
            entry = self._entries[name] = _Entry(command, env, self.logs / f"{name}.log")
        if entry.process is not None and entry.process.poll() is None:
            raise RuntimeError(f"{name} is running")
        with entry.log.open("ab") as out:
            entry.process = subprocess.Popen(
                entry.command, env=entry.env, stdout=out, stderr=subprocess.STDOUT
            )
        entry.baseline = 0.0
        return entry.process.pid

    def pid(self, name: str) -> int:
        process = self._entries[name].process
        if process is None:
            raise RuntimeError(f"{name} is not running")
        return process.pid

    def alive(self, name: str) -> bool:
        process = self._entries[name].process
        return process is not None and process.poll() is None

    def kill(self, name: str) -> None:
        """SIGKILL: no shutdown handler runs, nothing is handed over."""
        entry = self._entries[name]
        if entry.process is None:
            return
        entry.spent += (cpu_seconds(entry.process.pid) or entry.baseline) - entry.baseline
        entry.process.send_signal(signal.SIGKILL)
        entry.process.wait(30)
        entry.process = None

    def mark_cpu(self) -> None:
        """From now on, count CPU from zero."""
        for entry in self._entries.values():
            entry.spent = 0.0
            if entry.process is not None:
                entry.baseline = cpu_seconds(entry.process.pid) or 0.0

    def cpu(self) -> dict[str, float]:
        """CPU seconds per name since `mark_cpu()`, every incarnation together."""
        used = {}
        for name, entry in self._entries.items():
            now = cpu_seconds(entry.process.pid) if entry.process is not None else None
            running = (now - entry.baseline) if now is not None else 0.0
            used[name] = round(entry.spent + running, 2)
        return used

    def log_tail(self, name: str, chars: int = 3000) -> str:
        return self._entries[name].log.read_text(errors="replace")[-chars:]

    def stop_all(self) -> None:
        for entry in reversed(list(self._entries.values())):
            if entry.process is not None and entry.process.poll() is None:
                entry.process.send_signal(signal.SIGTERM)
        for entry in self._entries.values():
            if entry.process is None:
                continue
            try:
                entry.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                entry.process.kill()
                entry.process.wait()
            entry.process = None
