"""Cutting target nodes into waves."""

from __future__ import annotations

import pytest

from workflows.contracts.workloads import STRATEGY_PRESETS, RolloutStrategy
from workflows.workloads.waves import cut_waves, wave_size


def _nodes(count: int) -> list[str]:
    return [f"node-{i:03d}" for i in range(count)]


def _sizes(count: int, strategy: RolloutStrategy) -> list[int]:
    return [len(wave.nodes) for wave in cut_waves(_nodes(count), strategy)]


def test_default_is_a_canary_then_quarters() -> None:
    waves = cut_waves(_nodes(50), RolloutStrategy())
    assert [len(w.nodes) for w in waves] == [1, 13, 13, 13, 10]
    assert [w.index for w in waves] == [0, 1, 2, 3, 4]
    assert [w.canary for w in waves] == [True, False, False, False, False]


def test_every_node_once_in_order() -> None:
    nodes = _nodes(37)
    waves = cut_waves(nodes, RolloutStrategy(canary_nodes=3, wave_percent=10))
    assert [node for wave in waves for node in wave.nodes] == nodes


def test_max_unavailable_caps_the_percentage() -> None:
    strategy = RolloutStrategy(canary_nodes=1, wave_percent=50, max_unavailable=4)
    assert _sizes(10, strategy) == [1, 4, 4, 1]


def test_percentage_caps_max_unavailable() -> None:
    strategy = RolloutStrategy(canary_nodes=0, wave_percent=10, max_unavailable=40)
    assert _sizes(100, strategy) == [10] * 10


def test_all_at_once_is_one_wave() -> None:
    waves = cut_waves(_nodes(500), STRATEGY_PRESETS["all-at-once"])
    assert len(waves) == 1
    assert not waves[0].canary


def test_canary_larger_than_the_fleet_takes_everything() -> None:
    waves = cut_waves(_nodes(2), RolloutStrategy(canary_nodes=5))
    assert len(waves) == 1
    assert waves[0].canary
    assert waves[0].nodes == _nodes(2)


def test_no_nodes_no_waves() -> None:
    assert cut_waves([], RolloutStrategy()) == []


def test_duplicates_are_one_node() -> None:
    waves = cut_waves(["a", "b", "a"], RolloutStrategy(canary_nodes=0, wave_percent=100))
    assert waves[0].nodes == ["a", "b"]


@pytest.mark.parametrize(("total", "percent", "expected"), [(1, 1, 1), (500, 10, 50), (7, 25, 2)])
def test_wave_size_rounds_up(total: int, percent: float, expected: int) -> None:
    assert wave_size(total, RolloutStrategy(wave_percent=percent)) == expected
