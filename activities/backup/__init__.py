"""Backup and restore (activities)."""
