"""CloudCore itself: its deployment and status (activities)."""
