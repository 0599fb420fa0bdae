"""What the `threads` commands need of a backend, written once per way of reaching threads.

The conversation protocol (a self-hosted server, or a hosted session given by --client-secret) and the hosted
admin REST API (an API key) hold the same threads behind different calls; `threads_backend(target)` picks one,
so no command body asks which it has. Only click and `_target` at module level, like every CLI module.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import click

from ._target import Target

if TYPE_CHECKING:
    from .._sync.chat import Chat
    from .._sync.client import ChatKit
    from ..types import ThreadItem, ThreadMetadata

__all__ = ["ThreadsBackend", "threads_backend", "uses_admin_api"]


class ThreadsBackend(Protocol):
    """The thread calls of one backend. Pages walk every page when iterated; `page_size` is per request."""

    def list(self, *, page_size: int) -> Iterable[ThreadMetadata]:
        """The caller's threads (admin API: those of --user, else every user's), newest first."""
        ...

    def show(self, thread_id: str) -> ThreadMetadata: ...

    def items(self, thread_id: str, *, page_size: int) -> Iterable[ThreadItem]:
        """A thread's items, oldest first."""
        ...

    def rename(self, thread_id: str, title: str) -> ThreadMetadata: ...

    def delete(self, thread_id: str) -> None: ...

    def export(self, thread_ids: Sequence[str] | None, *, user: str | None) -> Iterator[dict[str, Any]]:
        """Export records (`chatkit_client._core.export`): of `thread_ids`, else of `user`, else every thread listed."""
        ...


def uses_admin_api(target: Target) -> bool:
    """True when only an API key reaches the threads: the hosted admin API, not the conversation protocol."""
    return not target.self_hosted and not target.client_secret


def threads_backend(target: Target) -> ThreadsBackend:
    """The backend for `target`; a usage error (exit 2) when the admin API is the way and no API key is given."""
    if uses_admin_api(target):
        return _AdminApiThreads(target.require_api_key("the threads admin API"), user=target.user)
    return _ProtocolThreads(target.chat())


class _ProtocolThreads:
    """Over the conversation protocol: the threads the server shows this caller."""

    def __init__(self, conversation: Chat) -> None:
        self._chat = conversation

    def list(self, *, page_size: int) -> Iterable[ThreadMetadata]:
        return self._chat.threads(limit=page_size)

    def show(self, thread_id: str) -> ThreadMetadata:
        return self._chat.get_thread(thread_id)

    def items(self, thread_id: str, *, page_size: int) -> Iterable[ThreadItem]:
        return self._chat.items(thread_id, limit=page_size)

    def rename(self, thread_id: str, title: str) -> ThreadMetadata:
        return self._chat.rename(title, thread_id=thread_id)

    def delete(self, thread_id: str) -> None:
        self._chat.delete_thread(thread_id)

    def export(self, thread_ids: Sequence[str] | None, *, user: str | None) -> Iterator[dict[str, Any]]:
        # The protocol has no user filter: the server already lists only the caller's threads.
        return self._chat.export_threads(thread_ids)


class _AdminApiThreads:
    """Through the hosted admin REST API (API key): any user's threads; `user` filters the list."""

    def __init__(self, client: ChatKit, *, user: str | None) -> None:
        self._client = client
        self._user = user

    def list(self, *, page_size: int) -> Iterable[ThreadMetadata]:
        return self._client.threads.list(user=self._user, limit=page_size)

    def show(self, thread_id: str) -> ThreadMetadata:
        return self._client.threads.retrieve(thread_id)

    def items(self, thread_id: str, *, page_size: int) -> Iterable[ThreadItem]:
        return self._client.threads.list_items(thread_id, limit=page_size, order="asc")

    def rename(self, thread_id: str, title: str) -> ThreadMetadata:
        raise click.UsageError(
            "the hosted admin API cannot rename threads; pass --client-secret of a session of the thread's user"
        )

    def delete(self, thread_id: str) -> None:
        self._client.threads.delete(thread_id)

    def export(self, thread_ids: Sequence[str] | None, *, user: str | None) -> Iterator[dict[str, Any]]:
        return self._client.threads.export(thread_ids, user=user)
