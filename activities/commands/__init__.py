"""Commands to devices: single, jobs, broadcasts, connection tests (activities)."""
