"""The device inventory: join tokens on demand, removal, node sync: API routes, schemas and the service that runs workflows."""
