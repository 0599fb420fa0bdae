"""The hosted REST resources: `client.sessions`, `client.threads`, `client.files`."""

from .._async.resources import AsyncFiles, AsyncSessions, AsyncThreads
from .._sync.resources import Files, Sessions, Threads

__all__ = ["AsyncFiles", "AsyncSessions", "AsyncThreads", "Files", "Sessions", "Threads"]
