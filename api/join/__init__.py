"""Device join and batch join: API routes, schemas and the service that runs workflows."""
