"""Workload rollouts and removal: API routes, schemas and the service that runs workflows."""
