"""Backup and restore (workflows)."""
