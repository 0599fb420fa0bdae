"""Where the pages used to live (now `_core/pages.py`, `_sync/pagination.py` and `_async/pagination.py`).

Kept only because `_chat.py` and `_async_chat.py` still import from here; delete it when the Chat shell moves
to `_async/` (issue 10).
"""

from ._async.pagination import AsyncPage, AsyncPaginator
from ._core.pages import parse_page
from ._sync.pagination import SyncPage

__all__ = ["AsyncPage", "AsyncPaginator", "SyncPage", "parse_page"]
