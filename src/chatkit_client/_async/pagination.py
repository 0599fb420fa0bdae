"""Pages of a list that fetch the next page only when iteration reaches it.

`limit` is a page size, as in openai-python: iterating a page walks every following page. Reading a page
body and guarding the walk against a server that loops are in `_core.pages`.

Imports: `_core.pages` only; a page fetches through the callable its list method gives it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Generic, TypeVar  # unasync: from typing import Generic, TypeVar

from .._core.pages import Walk

# unasync: async-only begin
if TYPE_CHECKING:
    from collections.abc import Awaitable, Generator
    from typing import Any
# unasync: async-only end

__all__ = ["AsyncPage", "AsyncPaginator"]  # unasync: __all__ = ["SyncPage"]

T = TypeVar("T")


class AsyncPage(Generic[T]):
    """One page of results (`data`); iterating it walks every following page lazily.

    The `limit` given to a list method is the size of each page, not a cap on the walk: stop the
    loop (or use `itertools.islice` on a `SyncPage`) to take at most N.

    >>> page = await client.threads.list(user="user_123")  # doctest: +SKIP
    >>> async for thread in page:  # doctest: +SKIP
    ...     print(thread.id)
    """

    def __init__(
        self,
        data: list[T],
        *,
        has_more: bool,
        next_cursor: str | None,
        fetch: Callable[[str], Awaitable[AsyncPage[T]]],  # unasync: fetch: Callable[[str], SyncPage[T]],
        what: str = "results",
        cursor: str | None = None,
    ) -> None:
        self.data = data
        self.has_more = has_more
        self.next_cursor = next_cursor
        self._fetch = fetch
        self._what = what
        self._cursor = cursor  # the cursor this page was fetched with

    def has_next_page(self) -> bool:
        return self.has_more and bool(self.next_cursor)

    async def next_page(self) -> AsyncPage[T] | None:
        """The following page, or None after the last; raises if the server's cursor points back at this page."""
        if not Walk(self._cursor).follow(self.has_more, self.next_cursor, self._what):
            return None
        assert self.next_cursor is not None
        page = await self._fetch(self.next_cursor)
        page._cursor = self.next_cursor
        return page

    async def iter_pages(self) -> AsyncIterator[AsyncPage[T]]:
        """This page and every following one, fetched as the loop reaches them."""
        walk = Walk(self._cursor)
        page = self
        while True:
            yield page
            if not walk.follow(page.has_more, page.next_cursor, page._what):
                return
            assert page.next_cursor is not None
            cursor = page.next_cursor
            page = await page._fetch(cursor)
            page._cursor = cursor

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.iter_pages():
            for item in page.data:
                yield item

    def __repr__(self) -> str:
        return f"AsyncPage(len(data)={len(self.data)}, has_more={self.has_more})"


# unasync: async-only begin
class AsyncPaginator(Generic[T]):
    """What an async list method returns: `await` it for the first page, or `async for` over it
    for every item across pages (as openai-python's `AsyncPaginator`). A sync list method returns
    its first `SyncPage` at once, so this has no sync twin.

    Nothing is sent until it is awaited or iterated; each `await` or loop starts from the first page.

    >>> async for thread in chat.threads():  # doctest: +SKIP
    ...     print(thread.id)
    >>> page = await chat.threads(limit=20)  # doctest: +SKIP
    >>> page.data, page.has_more  # doctest: +SKIP
    """

    def __init__(self, first_page: Callable[[], Awaitable[AsyncPage[T]]]) -> None:
        self._first_page = first_page

    def __await__(self) -> Generator[Any, None, AsyncPage[T]]:
        return self._first_page().__await__()

    async def __aiter__(self) -> AsyncIterator[T]:
        page = await self._first_page()
        async for item in page:
            yield item

    async def iter_pages(self) -> AsyncIterator[AsyncPage[T]]:
        """Every page, from the first, fetched as the loop reaches them."""
        page = await self._first_page()
        async for each in page.iter_pages():
            yield each

    def __repr__(self) -> str:
        return "AsyncPaginator(not fetched: await it for the first page, or async for over its items)"
# unasync: async-only end
