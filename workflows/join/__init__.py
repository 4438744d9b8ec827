"""Device join and batch join: workflows (deterministic code)."""
