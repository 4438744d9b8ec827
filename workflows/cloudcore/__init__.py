"""CloudCore itself: its deployment and status (workflows)."""
