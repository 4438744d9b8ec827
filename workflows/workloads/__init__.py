"""Workload rollouts and removal (workflows)."""
