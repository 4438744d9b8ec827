"""Users, login tokens and API keys: store tables and repository functions."""
