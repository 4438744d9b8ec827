"""Maintenance mode (workflows)."""
