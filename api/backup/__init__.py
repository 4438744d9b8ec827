"""Backup and restore: API routes, schemas and the service that runs workflows."""
