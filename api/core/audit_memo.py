"""Per-replica memory of the once-per-period audit events already handed to the store.

A login token's first use per day and a refused token per address and minute are written
with a dedupe key, so the store keeps one row whichever replica writes first. This memo
only spares the store the write: a key seen here in this period is not sent again, so
the thousandth request of a token today costs a set lookup, not an INSERT.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Far above the distinct tokens and addresses of a period; reaching it just forgets
# (the store's dedupe key still holds), so memory stays bounded under a flood.
MAX_KEYS = 50_000


@dataclass
class AuditMemo:
    seen: set[str] = field(default_factory=set)

    def first(self, key: str) -> bool:
        """True the first time this replica sees `key` (and remembers it)."""
        if key in self.seen:
            return False
        if len(self.seen) >= MAX_KEYS:
            self.seen.clear()
        self.seen.add(key)
        return True
