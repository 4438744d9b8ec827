"""Commands to devices: one command, command jobs, broadcasts, connection tests: activities (the side effects)."""
