"""Maintenance mode: opening and closing the window's run by name (API and restore)."""
