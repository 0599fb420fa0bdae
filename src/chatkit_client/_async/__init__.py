"""Async shells, hand-written: the source of the sync package."""  # unasync: """Sync shells, generated."""
