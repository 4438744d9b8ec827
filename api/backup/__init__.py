"""Backup and restore (routes, schemas, service)."""
