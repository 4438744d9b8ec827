"""CloudCore itself: its deployment and status: activities (the side effects)."""
