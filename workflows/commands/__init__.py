"""Commands to devices: one command, command jobs, broadcasts, connection tests: workflows (deterministic code)."""
