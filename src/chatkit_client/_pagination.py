"""Where the pages used to live (now `_core/pages.py`, `_sync/pagination.py` and `_async/pagination.py`).

Kept only because `_chat.py` and `_async_chat.py` still import from here; delete it when the Chat shell moves
to `_async/` (issue 10).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._core.pages import parse_page
from ._sync.pagination import SyncPage

if TYPE_CHECKING:
    from ._async.pagination import AsyncPage, AsyncPaginator

__all__ = ["AsyncPage", "AsyncPaginator", "SyncPage", "parse_page"]


def __getattr__(name: str) -> object:
    # The async pages are imported only by the async Chat shell: a sync program never loads `_async`.
    if name in ("AsyncPage", "AsyncPaginator"):
        from ._async import pagination

        return getattr(pagination, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
