"""Fleet monitoring (workflows)."""
