"""Users, login tokens and API keys: API routes, schemas and the service that runs workflows."""
