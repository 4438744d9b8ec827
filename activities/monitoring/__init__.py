"""Fleet monitoring (activities)."""
