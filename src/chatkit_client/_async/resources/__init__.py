"""The hosted REST resources of a client: `client.sessions`, `client.threads`, `client.files`.

Each one receives the client's requester and touches nothing else of the client.
"""

from .files import AsyncFiles
from .sessions import AsyncSessions
from .threads import AsyncThreads

__all__ = ["AsyncFiles", "AsyncSessions", "AsyncThreads"]
