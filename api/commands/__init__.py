"""Commands to devices: single, jobs, broadcasts, connection tests (routes, schemas, service)."""
