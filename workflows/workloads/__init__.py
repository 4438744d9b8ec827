"""Workload rollouts and removal: workflows (deterministic code)."""
