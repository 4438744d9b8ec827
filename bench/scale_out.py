"""Many replicas lose and duplicate nothing: the scale-out proof, beside one replica each.

`python -m bench.scale_out [--devices 2000] [--commands 200] [--nodes 100]` brings up, on
one machine, PostgreSQL (the store), Redis (rate limits), Mosquitto, one Temporal dev
server and the Kubernetes sandbox, then 2 API replicas, 2 workers and 2 bridges as real
processes (bench._scale_stack). Clients alternate between the API replicas. At once:
- a batch join of `--devices` devices;
- `--commands` commands to simulated devices (`python -m simulator`): four in five
  answer, the others never do;
- a canary rollout to `--nodes` edge nodes (Nodes Ready in the sandbox, their workloads'
  status written as kubelets would, simulator.workloads);
- an SSE client on each API replica, and a recorder on the event bus itself.
When a third of the batch is joined, one worker, the bridge holding the durable MQTT session
and one API replica are SIGKILLed; a few seconds later they are started again.

Then it counts, per device, node and command, what the run left (bench._scale_checks):
`lost` (a device without its token, ConfigMap, Device, ...; a command that did not end
as its device behaved, completed when it answered, timed_out when not; a rollout node
without its Deployment; an event the surviving replica's stream missed), `duplicated`
(two of one) and `orphaned` (objects of no joined device or target node). Failed logins
alternating between replicas must meet 429 after the per-IP cap, counted once across
replicas (Redis). Then the same run with one replica of each and no kill, the baseline.

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from typing import Any

from bench._scale_run import Size, run
from bench._scale_stack import Shape

REPLICATED = Shape(api_replicas=2, workers=2, bridges=2)
BARE = Shape(api_replicas=1, workers=1, bridges=1)


def _rate(count: int, seconds: float | None, per: float) -> float | None:
    return round(count / seconds * per, 2) if seconds else None


def _ratio(value: float | None, base: float | None) -> float | None:
    return round(value / base, 3) if value and base else None


def throughput(result: dict[str, object], size: Size) -> dict[str, float | None]:
    seconds = result["seconds"]
    assert isinstance(seconds, dict)
    return {
        "devices_per_min": _rate(size.devices, seconds.get("join"), 60),
        "commands_per_s": _rate(size.commands, seconds.get("commands"), 1),
        "rollout_nodes_per_min": _rate(size.nodes, seconds.get("rollout"), 60),
    }


async def main(size: Size, *, baseline: bool) -> dict[str, object]:
    start = time.perf_counter()
    scaled = await run(REPLICATED, size, kill=True)
    line: dict[str, object] = {
        "bench": "scale_out",
        "api_replicas": REPLICATED.api_replicas,
        "workers": REPLICATED.workers,
        "bridges": REPLICATED.bridges,
        "store": "postgresql",
        "devices": size.devices,
        "commands": size.commands,
        "nodes": size.nodes,
        **scaled,
        "throughput": throughput(scaled, size),
    }
    bare: dict[str, Any] | None = None
    if baseline:
        try:
            bare = await run(BARE, size, kill=False)
        except Exception as err:  # the replicated figures still stand; say what failed
            line["baseline"] = {"error": f"{type(err).__name__}: {err}"[:500]}
    if bare is not None:
        bare_rates = throughput(bare, size)
        line["baseline"] = {
            "api_replicas": 1,
            "workers": 1,
            "bridges": 1,
            "lost": bare["lost"],
            "duplicated": bare["duplicated"],
            "orphaned": bare["orphaned"],
            "seconds": bare["seconds"],
            "throughput": bare_rates,
            "cpu_seconds": bare["cpu_seconds"],
        }
        line["ratio_vs_baseline"] = {
            name: _ratio(value, bare_rates[name])
            for name, value in throughput(scaled, size).items()
        }
    line["bench_seconds"] = round(time.perf_counter() - start, 1)
    line["cpus"] = os.cpu_count()
    return line


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=2000)
    parser.add_argument("--commands", type=int, default=200)
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--window", type=int, default=100, help="joins in flight")
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip the one-replica run (the e2e test)"
    )
    args = parser.parse_args()
    size = Size(devices=args.devices, commands=args.commands, nodes=args.nodes, window=args.window)
    result = asyncio.run(main(size, baseline=not args.no_baseline))
    print(json.dumps(result), flush=True)
    # temporalio can abort at interpreter exit after all work is done (sdk-python#300).
    os._exit(0)
