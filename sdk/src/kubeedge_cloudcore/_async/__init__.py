"""The async clients. `_sync/` is generated from this package by `make sdk-sync`."""
