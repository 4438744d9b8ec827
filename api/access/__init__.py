"""Users, login tokens and API keys (routes, schemas, service)."""
