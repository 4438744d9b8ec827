"""Commands to devices: one command, command jobs, broadcasts, connection tests: API routes, schemas and the service that runs workflows."""
