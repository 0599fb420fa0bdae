"""`client.threads`: the hosted threads admin endpoints (API key), paginated lazily."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from .._hosted_requests import list_query, path_id
from .._pagination import AsyncPage, SyncPage, parse_page
from ..types import ChatKitThread, ThreadDeleted, ThreadItem, parse_item
from ._shared import parse_model, validate_model

if TYPE_CHECKING:
    from .._client import AsyncChatKit, ChatKit

__all__ = ["AsyncThreads", "Threads"]

Order = Literal["asc", "desc"]


def _parse_thread(body: object) -> ChatKitThread:
    return validate_model(ChatKitThread, body)


class Threads:
    """Every user's threads, as the API key sees them.

    >>> for thread in client.threads.list(user="user_123", limit=20):  # doctest: +SKIP
    ...     print(thread.id, thread.title)
    """

    def __init__(self, client: ChatKit) -> None:
        self._client = client

    def list(
        self,
        *,
        user: str | None = None,
        limit: int | None = None,
        order: Order | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> SyncPage[ChatKitThread]:
        """Threads, newest first by default; iterate the page to walk all of them."""
        query = list_query(user=user, limit=limit, order=order, after=after, before=before)
        response = self._client._transport.request(self._client._api_spec("GET", "/chatkit/threads", params=query))
        data, has_more, cursor = parse_page(response.json(), _parse_thread, what="threads")
        return SyncPage(
            data,
            has_more=has_more,
            next_cursor=cursor,
            fetch=lambda next_after: self.list(user=user, limit=limit, order=order, after=next_after),
        )

    def retrieve(self, thread_id: str) -> ChatKitThread:
        path = f"/chatkit/threads/{path_id(thread_id, 'thread_id')}"
        return parse_model(ChatKitThread, self._client._transport.request(self._client._api_spec("GET", path)))

    def delete(self, thread_id: str) -> ThreadDeleted:
        """Delete a thread with its items and stored attachments."""
        path = f"/chatkit/threads/{path_id(thread_id, 'thread_id')}"
        return parse_model(ThreadDeleted, self._client._transport.request(self._client._api_spec("DELETE", path)))

    def list_items(
        self,
        thread_id: str,
        *,
        limit: int | None = None,
        order: Order | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> SyncPage[ThreadItem]:
        """A thread's items; iterate the page to walk all of them."""
        path = f"/chatkit/threads/{path_id(thread_id, 'thread_id')}/items"
        query = list_query(limit=limit, order=order, after=after, before=before)
        response = self._client._transport.request(self._client._api_spec("GET", path, params=query))
        data, has_more, cursor = parse_page(response.json(), parse_item, what="thread items")
        return SyncPage(
            data,
            has_more=has_more,
            next_cursor=cursor,
            fetch=lambda next_after: self.list_items(thread_id, limit=limit, order=order, after=next_after),
        )


class AsyncThreads:
    """Async twin of `Threads`.

    >>> page = await client.threads.list(user="user_123")  # doctest: +SKIP
    >>> async for thread in page:  # doctest: +SKIP
    ...     print(thread.id)
    """

    def __init__(self, client: AsyncChatKit) -> None:
        self._client = client

    async def list(
        self,
        *,
        user: str | None = None,
        limit: int | None = None,
        order: Order | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> AsyncPage[ChatKitThread]:
        """Threads, newest first by default; `async for` over the page walks all of them."""
        query = list_query(user=user, limit=limit, order=order, after=after, before=before)
        response = await self._client._transport.request(
            self._client._api_spec("GET", "/chatkit/threads", params=query)
        )
        data, has_more, cursor = parse_page(response.json(), _parse_thread, what="threads")
        return AsyncPage(
            data,
            has_more=has_more,
            next_cursor=cursor,
            fetch=lambda next_after: self.list(user=user, limit=limit, order=order, after=next_after),
        )

    async def retrieve(self, thread_id: str) -> ChatKitThread:
        path = f"/chatkit/threads/{path_id(thread_id, 'thread_id')}"
        return parse_model(ChatKitThread, await self._client._transport.request(self._client._api_spec("GET", path)))

    async def delete(self, thread_id: str) -> ThreadDeleted:
        """Delete a thread with its items and stored attachments."""
        path = f"/chatkit/threads/{path_id(thread_id, 'thread_id')}"
        return parse_model(ThreadDeleted, await self._client._transport.request(self._client._api_spec("DELETE", path)))

    async def list_items(
        self,
        thread_id: str,
        *,
        limit: int | None = None,
        order: Order | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> AsyncPage[ThreadItem]:
        """A thread's items; `async for` over the page walks all of them."""
        path = f"/chatkit/threads/{path_id(thread_id, 'thread_id')}/items"
        query = list_query(limit=limit, order=order, after=after, before=before)
        response = await self._client._transport.request(self._client._api_spec("GET", path, params=query))
        data, has_more, cursor = parse_page(response.json(), parse_item, what="thread items")
        return AsyncPage(
            data,
            has_more=has_more,
            next_cursor=cursor,
            fetch=lambda next_after: self.list_items(thread_id, limit=limit, order=order, after=next_after),
        )
