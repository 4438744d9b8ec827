"""Device join and batch join: activities (the side effects)."""
