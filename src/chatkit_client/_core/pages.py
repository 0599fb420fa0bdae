"""Pages of a list, read and walked: a page body's items, `has_more` and next cursor, and the cursors a walk follows.

One shape serves the REST envelope (`has_more` + `last_id`) and the protocol's (`has_more` + `after`).
A walk never loops forever: a cursor the server already sent, a page that points at itself, or
`has_more` without a cursor raise `APIResponseValidationError` naming the problem. The pages that
fetch (`SyncPage`, `AsyncPage`) are in the shells' `pagination` modules.

Imports: stdlib, _exceptions, _constants.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from .._constants import LOGGER_NAME
from .._exceptions import APIResponseValidationError

__all__ = ["Walk", "parse_page"]

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


class Walk:
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
