"""`client.threads`: the hosted threads admin endpoints (API key), paginated lazily.

Imports: `_core` (queries, pages, export records, answer parsing), the types, this shell's pages and requester.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any, Literal

from ..._core.export import EXPORT_PAGE_SIZE, export_ids, thread_record
from ..._core.hosted_requests import list_query, path_id
from ..._core.pages import parse_page
from ..._core.parsing import parse_model, validate_model
from ...types import ChatKitThread, ThreadDeleted, ThreadItem, parse_item
from ..pagination import AsyncPage, AsyncPaginator  # unasync: from ..pagination import SyncPage

if TYPE_CHECKING:
    from ..requester import AsyncRequester

__all__ = ["AsyncThreads"]

Order = Literal["asc", "desc"]


def _parse_thread(body: object) -> ChatKitThread:
    return validate_model(ChatKitThread, body)


class AsyncThreads:
    """Every user's threads, as the API key sees them.

    >>> async for thread in client.threads.list(user="user_123", limit=20):  # doctest: +SKIP
    ...     print(thread.id, thread.title)
    """

    def __init__(self, requester: AsyncRequester) -> None:
        self._requester = requester

    def list(
        self,
        *,
        user: str | None = None,
        limit: int | None = None,
        order: Order | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> AsyncPaginator[ChatKitThread]:  # unasync: ) -> SyncPage[ChatKitThread]:
        # unasync: sync-only begin
        # """Threads (of `user`, or of every user), newest first by default; iterating the page walks all of them.
        #
        # `limit` is the page size (each request asks for that many), not a cap on the walk.
        #
        # >>> for thread in client.threads.list(user="user_123"):  # doctest: +SKIP
        # ...     print(thread.id, thread.title)
        # """
        # unasync: sync-only end
        # unasync: async-only begin
        """Threads (of `user`, or of every user), newest first by default: `await` it for the first
        page, `async for` over it for every thread. `limit` is the page size, not a cap on the walk."""
        # unasync: async-only end
        query = list_query(user=user, limit=limit, order=order, after=after, before=before)

        async def first_page() -> AsyncPage[ChatKitThread]:
            response = await self._requester.request(
                self._requester.endpoints.api("GET", "/chatkit/threads", params=query)
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

        return AsyncPaginator(first_page)  # unasync: return first_page()

    async def retrieve(self, thread_id: str) -> ChatKitThread:
        path = f"/chatkit/threads/{path_id(thread_id, 'thread_id')}"
        return parse_model(ChatKitThread, await self._requester.request(self._requester.endpoints.api("GET", path)))

    async def delete(self, thread_id: str) -> ThreadDeleted:
        """Delete a thread with its items and stored attachments."""
        path = f"/chatkit/threads/{path_id(thread_id, 'thread_id')}"
        return parse_model(ThreadDeleted, await self._requester.request(self._requester.endpoints.api("DELETE", path)))

    def list_items(
        self,
        thread_id: str,
        *,
        limit: int | None = None,
        order: Order | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> AsyncPaginator[ThreadItem]:  # unasync: ) -> SyncPage[ThreadItem]:
        # unasync: sync-only begin
        # """A thread's items; iterating the page walks all of them (`limit` is the page size)."""
        # unasync: sync-only end
        # unasync: async-only begin
        """A thread's items: `await` it for the first page, `async for` over it for every item
        (`limit` is the page size)."""
        # unasync: async-only end
        path = f"/chatkit/threads/{path_id(thread_id, 'thread_id')}/items"
        query = list_query(limit=limit, order=order, after=after, before=before)

        async def first_page() -> AsyncPage[ThreadItem]:
            response = await self._requester.request(self._requester.endpoints.api("GET", path, params=query))
            data, has_more, cursor = parse_page(response.json(), parse_item, what="thread items")
            return AsyncPage(
                data,
                has_more=has_more,
                next_cursor=cursor,
                fetch=lambda next_after: self.list_items(thread_id, limit=limit, order=order, after=next_after),
                what="thread items",
                cursor=after,
            )

        return AsyncPaginator(first_page)  # unasync: return first_page()

    def export(
        self, thread_ids: Sequence[str] | None = None, *, user: str | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        # unasync: sync-only begin
        # """Threads with all of their items, one JSON-ready dict per thread (the same records as
        # `chat.export_threads`): those of `thread_ids`, else every thread of `user`, else every thread.
        #
        # >>> import json
        # >>> with open("backup.jsonl", "w") as out:
        # ...     for record in client.threads.export(user="user_123"):
        # ...         print(json.dumps(record), file=out)
        # """
        # unasync: sync-only end
        # unasync: async-only begin
        """Threads with all of their items, one JSON-ready dict per thread (the same records as
        `chat.export_threads`): those of `thread_ids`, else every thread of `user`, else every thread.

        >>> async for record in client.threads.export(user="user_123"):  # doctest: +SKIP
        ...     print(record["id"], len(record["items"]))
        """
        # unasync: async-only end
        return self._export(export_ids(thread_ids), user)

    async def _export(self, ids: Sequence[str] | None, user: str | None) -> AsyncIterator[dict[str, Any]]:
        if ids is not None:
            for thread_id in ids:
                yield await self._export_one(await self.retrieve(thread_id))
        else:
            async for thread in self.list(user=user, limit=EXPORT_PAGE_SIZE):
                yield await self._export_one(thread)

    async def _export_one(self, thread: ChatKitThread) -> dict[str, Any]:
        # The items of one thread, every page, oldest first.
        items = [item async for item in self.list_items(thread.id, limit=EXPORT_PAGE_SIZE, order="asc")]
        return thread_record(thread, items)
