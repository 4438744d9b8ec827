"""The device inventory: join tokens on demand, removal, node sync (routes, schemas, service)."""
