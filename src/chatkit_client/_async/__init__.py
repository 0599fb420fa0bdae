"""The async shells, written by hand; `_sync/` is generated from this package by `scripts/unasync.py`."""
