"""The shapes of a time as the store keeps it on SQLite, for statements that read the text.

SQLAlchemy's SQLite DATETIME stores a UTC datetime as "YYYY-MM-DD HH:MM:SS.ffffff" (no
zone); SQLite's own CURRENT_TIMESTAMP writes "YYYY-MM-DD HH:MM:SS". Statements that turn
that text into other text in SQL (store/backup/sqlite_lines.py, store/devices/list_json.py)
recognise the two with these GLOB patterns, each a quoted SQL literal.
"""

from __future__ import annotations

_DIGITS = "[0-9]"
_WHOLE = f"{_DIGITS * 4}-{_DIGITS * 2}-{_DIGITS * 2} {_DIGITS * 2}:{_DIGITS * 2}:{_DIGITS * 2}"

# "YYYY-MM-DD HH:MM:SS"
WHOLE_SECONDS_GLOB = f"'{_WHOLE}'"
# "YYYY-MM-DD HH:MM:SS.ffffff"
MICROSECONDS_GLOB = f"'{_WHOLE}.{_DIGITS * 6}'"
