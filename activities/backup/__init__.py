"""Backup and restore: activities (the side effects)."""
