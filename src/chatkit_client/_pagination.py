"""Pages of a list that fetch the next page only when iteration reaches it.

One shape serves the REST envelope (`has_more` + `last_id`) and the protocol's (`has_more` + `after`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from ._exceptions import APIResponseValidationError

__all__ = ["AsyncPage", "SyncPage", "parse_page"]

T = TypeVar("T")


def parse_page(body: object, parse: Callable[[Mapping[str, Any]], T], *, what: str) -> tuple[list[T], bool, str | None]:
    """Items, `has_more` and the cursor of the next page from a list body (REST or protocol shape)."""
    if not isinstance(body, Mapping) or not isinstance(body.get("data"), list):
        raise APIResponseValidationError(
            f"expected a list of {what} with a 'data' array, got {type(body).__name__}", body=body
        )
    raw_items: list[Any] = body["data"]
    items = [parse(entry) for entry in raw_items]
    has_more = bool(body.get("has_more", False))
    cursor = body.get("after") if "after" in body else body.get("last_id")
    if not isinstance(cursor, str) or not cursor:
        last = raw_items[-1] if raw_items else None
        cursor = last.get("id") if isinstance(last, Mapping) and isinstance(last.get("id"), str) else None
    return items, has_more, cursor


class SyncPage(Generic[T]):
    """One page of results; iterating it walks every following page lazily.

    >>> for thread in client.threads.list(user="user_123"):  # doctest: +SKIP
    ...     print(thread.id)
    """

    def __init__(
        self, data: list[T], *, has_more: bool, next_cursor: str | None, fetch: Callable[[str], SyncPage[T]]
    ) -> None:
        self.data = data
        self.has_more = has_more
        self.next_cursor = next_cursor
        self._fetch = fetch

    def has_next_page(self) -> bool:
        return self.has_more and bool(self.next_cursor)

    def next_page(self) -> SyncPage[T] | None:
        if not self.has_next_page():
            return None
        assert self.next_cursor is not None
        return self._fetch(self.next_cursor)

    def iter_pages(self) -> Iterator[SyncPage[T]]:
        page: SyncPage[T] | None = self
        while page is not None:
            yield page
            page = page.next_page()

    def __iter__(self) -> Iterator[T]:
        for page in self.iter_pages():
            yield from page.data

    def __repr__(self) -> str:
        return f"SyncPage(len(data)={len(self.data)}, has_more={self.has_more})"


class AsyncPage(Generic[T]):
    """Async twin of `SyncPage`: `async for` walks every following page lazily.

    >>> page = await client.threads.list(user="user_123")  # doctest: +SKIP
    >>> async for thread in page:  # doctest: +SKIP
    ...     print(thread.id)
    """

    def __init__(
        self, data: list[T], *, has_more: bool, next_cursor: str | None, fetch: Callable[[str], Awaitable[AsyncPage[T]]]
    ) -> None:
        self.data = data
        self.has_more = has_more
        self.next_cursor = next_cursor
        self._fetch = fetch

    def has_next_page(self) -> bool:
        return self.has_more and bool(self.next_cursor)

    async def next_page(self) -> AsyncPage[T] | None:
        if not self.has_next_page():
            return None
        assert self.next_cursor is not None
        return await self._fetch(self.next_cursor)

    async def iter_pages(self) -> AsyncIterator[AsyncPage[T]]:
        page: AsyncPage[T] | None = self
        while page is not None:
            yield page
            page = await page.next_page()

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.iter_pages():
            for item in page.data:
                yield item

    def __repr__(self) -> str:
        return f"AsyncPage(len(data)={len(self.data)}, has_more={self.has_more})"
