"""Where `ChatKit` and `AsyncChatKit` used to live (now `_sync/client.py` and `_async/client.py`).

Kept only because `_chat.py` and `_async_chat.py` still import the client from here for their annotations;
delete it when the Chat shell moves to `_async/` (issue 10).
"""

from ._async.client import AsyncChatKit
from ._sync.client import ChatKit

__all__ = ["AsyncChatKit", "ChatKit"]
