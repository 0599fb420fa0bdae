"""The hosted REST resources: `client.sessions`, `client.threads`, `client.files`."""

from ._files import AsyncFiles, Files
from ._sessions import AsyncSessions, Sessions
from ._threads import AsyncThreads, Threads

__all__ = ["AsyncFiles", "AsyncSessions", "AsyncThreads", "Files", "Sessions", "Threads"]
