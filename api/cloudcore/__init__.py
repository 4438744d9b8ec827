"""CloudCore itself: its deployment and status (routes, schemas, service)."""
