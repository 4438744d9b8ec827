"""Device join and batch join (activities)."""
