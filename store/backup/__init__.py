"""Backup and restore: store tables and repository functions."""
