"""Two replicas of every process, one of each SIGKILLed mid-run: nothing lost or doubled.

Runs `python -m bench.scale_out` sized down (100 devices, 20 commands, 10 nodes, no
one-replica baseline) and checks what it counted: every device joined exactly once,
every command ended as its device behaved, the rollout completed, the surviving API
replica's stream saw every event, and the login limit held across replicas.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from typing import Any

import pytest

from bench._servers import pg_binary
from workers.processes import mosquitto_binary

DEVICES, COMMANDS, NODES = 100, 20, 10

# Twelve processes start at once (each replica imports the whole app; on a loaded 2-core
# machine one import took 47 s) and a killed worker's tasks wait for their timeouts: far
# beyond the suite's 15-minute budget, so `make test-scale` runs it on its own.
pytestmark = [pytest.mark.scale, pytest.mark.timeout(1200)]


def _missing_servers() -> list[str]:
    missing = [name for name in ("redis-server",) if shutil.which(name) is None]
    if mosquitto_binary() is None:
        missing.append("mosquitto")
    try:
        pg_binary("initdb")
    except FileNotFoundError:
        missing.append("postgresql")
    return missing


def _scale_out() -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.scale_out", "--no-baseline"]
    command += ["--devices", str(DEVICES), "--commands", str(COMMANDS), "--nodes", str(NODES)]
    bench = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = bench.communicate(timeout=1100)
    except subprocess.TimeoutExpired:
        # SIGINT, not SIGKILL: the bench then stops the dozen servers it started.
        bench.send_signal(signal.SIGINT)
        out, err = bench.communicate(timeout=60)
        pytest.fail(f"the bench did not finish in time: {err[-3000:]}")
    assert bench.returncode == 0, err[-5000:]
    line: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return line


def test_replicas_killed_mid_run_lose_and_duplicate_nothing() -> None:
    missing = _missing_servers()
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)} (make system-deps)")
    result = _scale_out()

    assert (result["api_replicas"], result["workers"], result["bridges"]) == (2, 2, 2)
    assert result["store"] == "postgresql"
    assert len(result["killed"]) == 3, result["killed"]
    assert {name.split("-")[0] for name in result["killed"]} == {"worker", "bridge", "api"}
    assert (result["lost"], result["duplicated"], result["orphaned"]) == (0, 0, 0), result
    join = result["join"]
    assert (join["status"], join["success"], join["failed"]) == ("completed", DEVICES, 0)
    assert result["rollout"]["state"] == "completed"
    assert result["rollout"]["targets"] == NODES
    states = result["commands_by_state"]
    assert set(states) == {"completed", "timed_out"}, states
    assert sum(states.values()) == COMMANDS
    assert result["commands_not_as_expected"] == {}
    events = result["events"]
    # Every command is sent and answered or not, every device provisioned: all on the bus.
    assert events["on_bus"] >= DEVICES + COMMANDS
    assert (events["missing"], events["extra"]) == (0, 0)
    assert events["surviving_stream"] == events["on_bus"]
    limit = result["rate_limit_logins"]
    assert limit["allowed"] == limit["cap"] < limit["attempts"]
    assert set(result["requests_per_replica"]) == {"api-0", "api-1"}
