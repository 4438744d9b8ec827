"""Generated from `_async/` by sdk/tools/unasync_clients.py: edit those."""
