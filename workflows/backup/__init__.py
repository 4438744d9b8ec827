"""Backup and restore: workflows (deterministic code)."""
