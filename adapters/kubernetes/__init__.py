"""Kubernetes: the client, its errors classified for Temporal, manifests and reads."""
