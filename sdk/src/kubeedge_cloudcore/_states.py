"""Which states are final, per kind of run (the server's vocabulary)."""

from __future__ import annotations

COMMAND_FINAL = frozenset({"completed", "failed", "timed_out", "cancelled"})
JOB_FINAL = frozenset({"completed", "aborted", "cancelled"})
BATCH_FINAL = frozenset({"completed", "cancelled"})
ROLLOUT_FINAL = frozenset({"completed", "rolled_back", "failed", "superseded"})
BACKUP_FINAL = frozenset({"completed", "failed", "cancelled", "pruned"})
RESTORE_FINAL = frozenset({"completed", "failed", "rolled_back", "cancelled"})
