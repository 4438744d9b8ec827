"""Device join and batch join (workflows)."""
