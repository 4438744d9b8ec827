"""Workload rollouts and removal (activities)."""
