"""Fleet monitoring: metric samples, rollups, retention, detection counts, fleet figures."""
