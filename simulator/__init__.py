"""Simulated edge devices and the sandbox Kubernetes API."""
