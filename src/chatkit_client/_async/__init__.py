"""The async shells, written by hand: the source of `_sync/`."""  # unasync: """The sync shells, generated."""
