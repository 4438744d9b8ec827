"""Workload rollouts and removal (routes, schemas, service)."""
