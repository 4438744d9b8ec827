"""Device join and batch join (routes, schemas, service)."""
