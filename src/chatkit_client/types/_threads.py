"""Threads: the protocol's `Thread` (conversation stream) and REST's `ChatKitThread` (admin API)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ._base import ChatKitModel, Page, Timestamp
from ._items import ThreadItem

__all__ = ["ChatKitThread", "Thread", "ThreadDeleted", "ThreadMetadata", "ThreadStatus"]


class ThreadStatus(ChatKitModel):
    """Whether a thread accepts new messages."""

    type: str = "active"
    """`"active"`, `"locked"` or `"closed"`."""
    reason: str | None = None


class ThreadMetadata(ChatKitModel):
    """The fields every thread shape has."""

    id: str
    created_at: Timestamp | None = None
    """When the thread was created (timezone-aware); None only when the server left it out."""
    title: str | None = None
    """None until the server titles the thread."""
    status: ThreadStatus = Field(default_factory=ThreadStatus)


class Thread(ThreadMetadata):
    """A thread as the conversation protocol sends it (`thread.created`, `threads.get_by_id`, ...).

    ```python
    reply = chat.send("Hello")
    print(reply.thread.title if reply.thread else None)
    ```
    """

    metadata: dict[str, Any] = Field(default_factory=dict)
    items: Page[ThreadItem] | None = None
    """The thread's items when the server includes them (usually an empty first page in streams)."""


class ChatKitThread(ThreadMetadata):
    """A thread as the REST admin API sends it (`GET /v1/chatkit/threads/...`).

    ```python
    for thread in client.threads.list(user="user_1"):
        print(thread.id, thread.title, thread.created_at)
    ```
    """

    object: str | None = None
    user: str | None = None


class ThreadDeleted(ChatKitModel):
    """The answer of `DELETE /v1/chatkit/threads/{id}`."""

    id: str
    object: str | None = None
    deleted: bool = True
