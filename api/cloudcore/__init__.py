"""CloudCore itself: its deployment and status: API routes, schemas and the service that runs workflows."""
