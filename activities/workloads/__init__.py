"""Workload rollouts and removal: activities (the side effects)."""
