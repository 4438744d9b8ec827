"""Cutting a rollout's target nodes into waves: a pure function, shared by workflow and tests.

The first wave is the canary (`canary_nodes`, at most every target). The rest go in waves
of `wave_percent` of all targets, rounded up, or `max_unavailable` nodes when that is
smaller, so no wave ever takes more nodes out of service than the strategy allows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from workflows.contracts.workloads import RolloutStrategy, Wave


def wave_size(total: int, strategy: RolloutStrategy) -> int:
    """Nodes per wave after the canary: at least one."""
    size = math.ceil(total * strategy.wave_percent / 100.0)
    if strategy.max_unavailable is not None:
        size = min(size, strategy.max_unavailable)
    return max(1, size)


def cut_waves(nodes: Sequence[str], strategy: RolloutStrategy) -> list[Wave]:
    """The waves, in order; every node exactly once, in the order given."""
    nodes = list(dict.fromkeys(nodes))  # a node named twice is still one object
    waves: list[Wave] = []
    canary = min(strategy.canary_nodes, len(nodes))
    if canary:
        waves.append(Wave(index=0, nodes=nodes[:canary], canary=True))
    rest = nodes[canary:]
    size = wave_size(len(nodes), strategy)
    for start in range(0, len(rest), size):
        waves.append(Wave(index=len(waves), nodes=rest[start : start + size]))
    return waves
