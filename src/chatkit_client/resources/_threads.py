"""`client.threads`: the hosted threads admin endpoints (API key), paginated lazily."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal

from .._core.export import EXPORT_PAGE_SIZE, export_ids, thread_record
from .._core.hosted_requests import list_query, path_id
from .._core.parsing import parse_model, validate_model
from .._pagination import AsyncPage, AsyncPaginator, SyncPage, parse_page
from ..types import ChatKitThread, ThreadDeleted, ThreadItem, parse_item

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
        """Threads (of `user`, or of every user), newest first by default; iterating the page walks all of them.

        `limit` is the page size (each request asks for that many), not a cap on the walk.

        >>> for thread in client.threads.list(user="user_123"):  # doctest: +SKIP
        ...     print(thread.id, thread.title)
        """
        query = list_query(user=user, limit=limit, order=order, after=after, before=before)
        response = self._client._transport.request(self._client._api_spec("GET", "/chatkit/threads", params=query))
        data, has_more, cursor = parse_page(response.json(), _parse_thread, what="threads")
        return SyncPage(
            data,
            has_more=has_more,
            next_cursor=cursor,
            fetch=lambda next_after: self.list(user=user, limit=limit, order=order, after=next_after),
            what="threads",
            cursor=after,
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
        """A thread's items; iterating the page walks all of them (`limit` is the page size)."""
        path = f"/chatkit/threads/{path_id(thread_id, 'thread_id')}/items"
        query = list_query(limit=limit, order=order, after=after, before=before)
        response = self._client._transport.request(self._client._api_spec("GET", path, params=query))
        data, has_more, cursor = parse_page(response.json(), parse_item, what="thread items")
        return SyncPage(
            data,
            has_more=has_more,
            next_cursor=cursor,
            fetch=lambda next_after: self.list_items(thread_id, limit=limit, order=order, after=next_after),
            what="thread items",
            cursor=after,
        )

    def export(self, thread_ids: Sequence[str] | None = None, *, user: str | None = None) -> Iterator[dict[str, Any]]:
        """Threads with all of their items, one JSON-ready dict per thread (the same records as
        `chat.export_threads`): those of `thread_ids`, else every thread of `user`, else every thread.

        >>> import json
        >>> with open("backup.jsonl", "w") as out:
        ...     for record in client.threads.export(user="user_123"):
        ...         print(json.dumps(record), file=out)
        """
        return self._export(export_ids(thread_ids), user)

    def _export(self, ids: Sequence[str] | None, user: str | None) -> Iterator[dict[str, Any]]:
        threads: Iterator[ChatKitThread]
        if ids is not None:
            threads = (self.retrieve(thread_id) for thread_id in ids)
        else:
            threads = iter(self.list(user=user, limit=EXPORT_PAGE_SIZE))
        for thread in threads:
            yield thread_record(thread, self.list_items(thread.id, limit=EXPORT_PAGE_SIZE, order="asc"))


class AsyncThreads:
    """Async twin of `Threads`: list methods return an `AsyncPaginator` (await it for the first page,
    `async for` over it for every item).

    >>> async for thread in client.threads.list(user="user_123"):  # doctest: +SKIP
    ...     print(thread.id)
    """

    def __init__(self, client: AsyncChatKit) -> None:
        self._client = client

    def list(
        self,
        *,
        user: str | None = None,
        limit: int | None = None,
        order: Order | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> AsyncPaginator[ChatKitThread]:
        """Threads (of `user`, or of every user), newest first by default: `await` it for the first
        page, `async for` over it for every thread. `limit` is the page size, not a cap on the walk."""
        query = list_query(user=user, limit=limit, order=order, after=after, before=before)

        async def first_page() -> AsyncPage[ChatKitThread]:
            response = await self._client._transport.request(
                self._client._api_spec("GET", "/chatkit/threads", params=query)
            )
            data, has_more, cursor = parse_page(response.json(), _parse_thread, what="threads")
            return AsyncPage(
                data,
                has_more=has_more,
                next_cursor=cursor,
                fetch=lambda next_after: self.list(user=user, limit=limit, order=order, after=next_after),
                what="threads",
                cursor=after,
            )

        return AsyncPaginator(first_page)

    async def retrieve(self, thread_id: str) -> ChatKitThread:
        path = f"/chatkit/threads/{path_id(thread_id, 'thread_id')}"
        return parse_model(ChatKitThread, await self._client._transport.request(self._client._api_spec("GET", path)))

    async def delete(self, thread_id: str) -> ThreadDeleted:
        """Delete a thread with its items and stored attachments."""
        path = f"/chatkit/threads/{path_id(thread_id, 'thread_id')}"
        return parse_model(ThreadDeleted, await self._client._transport.request(self._client._api_spec("DELETE", path)))

    def list_items(
        self,
        thread_id: str,
        *,
        limit: int | None = None,
        order: Order | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> AsyncPaginator[ThreadItem]:
        """A thread's items: `await` it for the first page, `async for` over it for every item
        (`limit` is the page size)."""
        path = f"/chatkit/threads/{path_id(thread_id, 'thread_id')}/items"
        query = list_query(limit=limit, order=order, after=after, before=before)

        async def first_page() -> AsyncPage[ThreadItem]:
            response = await self._client._transport.request(self._client._api_spec("GET", path, params=query))
            data, has_more, cursor = parse_page(response.json(), parse_item, what="thread items")
            return AsyncPage(
                data,
                has_more=has_more,
                next_cursor=cursor,
                fetch=lambda next_after: self.list_items(thread_id, limit=limit, order=order, after=next_after),
                what="thread items",
                cursor=after,
            )

        return AsyncPaginator(first_page)

    def export(
        self, thread_ids: Sequence[str] | None = None, *, user: str | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Async twin of `Threads.export`: `async for record in client.threads.export(user=...)`."""
        return self._export(export_ids(thread_ids), user)

    async def _export(self, ids: Sequence[str] | None, user: str | None) -> AsyncIterator[dict[str, Any]]:
        if ids is not None:
            for thread_id in ids:
                yield await self._export_one(await self.retrieve(thread_id))
        else:
            async for thread in self.list(user=user, limit=EXPORT_PAGE_SIZE):
                yield await self._export_one(thread)

    async def _export_one(self, thread: ChatKitThread) -> dict[str, Any]:
        items = [item async for item in self.list_items(thread.id, limit=EXPORT_PAGE_SIZE, order="asc")]
        return thread_record(thread, items)
