"""Backup and restore (store)."""
