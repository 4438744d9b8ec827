"""Users, login tokens and API keys (store)."""
