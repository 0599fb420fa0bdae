"""Pages of a list that fetch the next page only when iteration reaches it.

One shape serves the REST envelope (`has_more` + `last_id`) and the protocol's (`has_more` + `after`).
`limit` is a page size, as in openai-python: iterating a page walks every following page.

A walk never loops forever: a cursor the server already sent, a page that points at itself, or
`has_more` without a cursor raise `APIResponseValidationError` naming the problem.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator, Mapping
from typing import Any, Generic, TypeVar

from ._constants import LOGGER_NAME
from ._exceptions import APIResponseValidationError

__all__ = ["AsyncPage", "AsyncPaginator", "SyncPage", "parse_page"]

T = TypeVar("T")

log = logging.getLogger(LOGGER_NAME)


def _has_more(value: object, what: str) -> bool:
    """`has_more` as a bool; the strings "true"/"false" are read as meant (a truthy "false" once looped forever)."""
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        log.warning("the list of %s sent has_more as the string %r; reading it as a boolean", what, value[:10])
        return value.strip().lower() == "true"
    shown = repr(value) if isinstance(value, int | float) else type(value).__name__
    raise APIResponseValidationError(
        f"the list of {what} has a 'has_more' that is not true or false ({shown}); "
        "not guessing whether more pages follow"
    )


class _Walk:
    """The cursors one walk has followed, so that a server sending one again cannot make it loop."""

    def __init__(self, first_cursor: str | None) -> None:
        self.seen: set[str] = {first_cursor} if first_cursor else set()

    def follow(self, has_more: bool, cursor: str | None, what: str) -> bool:
        """Whether to fetch the page after `cursor`; raise when that page could never end the walk."""
        if not has_more:
            return False
        if not cursor:
            raise APIResponseValidationError(
                f"the server says more {what} follow (has_more) but sent no cursor for the next page"
            )
        if cursor in self.seen:
            raise APIResponseValidationError(
                f"the server sent the page cursor {cursor[:64]!r} of the list of {what} a second time; "
                "stopping instead of fetching the same pages forever"
            )
        self.seen.add(cursor)
        return True


def parse_page(body: object, parse: Callable[[Mapping[str, Any]], T], *, what: str) -> tuple[list[T], bool, str | None]:
    """Items, `has_more` and the cursor of the next page from a list body (REST or protocol shape)."""
    if not isinstance(body, Mapping) or not isinstance(body.get("data"), list):
        raise APIResponseValidationError(
            f"expected a list of {what} with a 'data' array, got {type(body).__name__}", body=body
        )
    raw_items: list[Any] = body["data"]
    items = [parse(entry) for entry in raw_items]
    has_more = _has_more(body.get("has_more", False), what)
    cursor = body.get("after") if "after" in body else body.get("last_id")
    if not isinstance(cursor, str) or not cursor:
        last = raw_items[-1] if raw_items else None
        cursor = last.get("id") if isinstance(last, Mapping) and isinstance(last.get("id"), str) else None
    return items, has_more, cursor


class SyncPage(Generic[T]):
    """One page of results (`data`); iterating it walks every following page lazily.

    The `limit` given to a list method is the size of each page, not a cap on the walk: stop the
    loop (or use `itertools.islice`) to take at most N.

    >>> for thread in client.threads.list(user="user_123"):  # doctest: +SKIP
    ...     print(thread.id)
    """

    def __init__(
        self,
        data: list[T],
        *,
        has_more: bool,
        next_cursor: str | None,
        fetch: Callable[[str], SyncPage[T]],
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

    def next_page(self) -> SyncPage[T] | None:
        """The following page, or None after the last; raises if the server's cursor points back at this page."""
        if not _Walk(self._cursor).follow(self.has_more, self.next_cursor, self._what):
            return None
        assert self.next_cursor is not None
        page = self._fetch(self.next_cursor)
        page._cursor = self.next_cursor
        return page

    def iter_pages(self) -> Iterator[SyncPage[T]]:
        """This page and every following one, fetched as the loop reaches them."""
        walk = _Walk(self._cursor)
        page = self
        while True:
            yield page
            if not walk.follow(page.has_more, page.next_cursor, page._what):
                return
            assert page.next_cursor is not None
            cursor = page.next_cursor
            page = page._fetch(cursor)
            page._cursor = cursor

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
        self,
        data: list[T],
        *,
        has_more: bool,
        next_cursor: str | None,
        fetch: Callable[[str], Awaitable[AsyncPage[T]]],
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
        if not _Walk(self._cursor).follow(self.has_more, self.next_cursor, self._what):
            return None
        assert self.next_cursor is not None
        page = await self._fetch(self.next_cursor)
        page._cursor = self.next_cursor
        return page

    async def iter_pages(self) -> AsyncIterator[AsyncPage[T]]:
        """This page and every following one, fetched as the loop reaches them."""
        walk = _Walk(self._cursor)
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


class AsyncPaginator(Generic[T]):
    """What an async list method returns: `await` it for the first page, or `async for` over it
    for every item across pages (as openai-python's `AsyncPaginator`).

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
