"""chatkit-client: the Python client for ChatKit, OpenAI's chat protocol.

Talk to OpenAI's hosted ChatKit API or to your own ChatKit server (built with `openai-chatkit`)
through one API, sync or async:

>>> from chatkit_client import ChatKit
>>> client = ChatKit(server_url="http://localhost:8000/chatkit")  # doctest: +SKIP
>>> print(client.chat().send("Hello!").text)  # doctest: +SKIP

Typed events and items live in `chatkit_client.types`; the offline test kit (a hosted-API emulator
and a local ChatKit server) in `chatkit_client.testing`.
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING

from ._lazy import lazy_getattr as _lazy_getattr
from ._version import __version__

if _TYPE_CHECKING:
    from ._async.chat import AsyncChat, AsyncChatStream
    from ._async.client import AsyncChatKit
    from ._async.pagination import AsyncPage, AsyncPaginator
    from ._core.chat import ToolHandler
    from ._core.endpoints import HeadersSource
    from ._core.files import FileInput, ProgressCallback
    from ._core.reply import Reply
    from ._exceptions import (
        APIConnectionError,
        APIError,
        APIResponseValidationError,
        APIStatusError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        ChatKitError,
        ConfigurationError,
        ConflictError,
        InternalServerError,
        InvalidInputError,
        NotFoundError,
        PermissionDeniedError,
        RateLimitError,
        ResponseTooLargeError,
        StreamDecodeError,
        StreamEndedEarlyError,
        StreamError,
        StreamInterruptedError,
        ToolRoundsExceededError,
        UnprocessableEntityError,
    )
    from ._http import Timeout
    from ._sync.chat import Chat, ChatStream
    from ._sync.client import ChatKit
    from ._sync.pagination import SyncPage

# Names are imported on first use, so that `import chatkit_client` (and the `chatkit` command's
# start-up) does not pay for pydantic and httpx2 until something needs them.
_LAZY: dict[str, str] = {
    "APIConnectionError": "._exceptions",
    "APIError": "._exceptions",
    "APIResponseValidationError": "._exceptions",
    "APIStatusError": "._exceptions",
    "APITimeoutError": "._exceptions",
    "AsyncChat": "._async.chat",
    "AsyncChatKit": "._async.client",
    "AsyncChatStream": "._async.chat",
    "AsyncPage": "._async.pagination",
    "AsyncPaginator": "._async.pagination",
    "AuthenticationError": "._exceptions",
    "BadRequestError": "._exceptions",
    "Chat": "._sync.chat",
    "ChatKit": "._sync.client",
    "ChatKitError": "._exceptions",
    "ChatStream": "._sync.chat",
    "ConfigurationError": "._exceptions",
    "ConflictError": "._exceptions",
    "FileInput": "._core.files",
    "HeadersSource": "._core.endpoints",
    "InternalServerError": "._exceptions",
    "InvalidInputError": "._exceptions",
    "NotFoundError": "._exceptions",
    "PermissionDeniedError": "._exceptions",
    "ProgressCallback": "._core.files",
    "RateLimitError": "._exceptions",
    "Reply": "._core.reply",
    "ResponseTooLargeError": "._exceptions",
    "StreamDecodeError": "._exceptions",
    "StreamEndedEarlyError": "._exceptions",
    "StreamError": "._exceptions",
    "StreamInterruptedError": "._exceptions",
    "SyncPage": "._sync.pagination",
    "Timeout": "._http",
    "ToolHandler": "._core.chat",
    "ToolRoundsExceededError": "._exceptions",
    "UnprocessableEntityError": "._exceptions",
}


__getattr__ = _lazy_getattr(__name__, _LAZY, globals())


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncChat",
    "AsyncChatKit",
    "AsyncChatStream",
    "AsyncPage",
    "AsyncPaginator",
    "AuthenticationError",
    "BadRequestError",
    "Chat",
    "ChatKit",
    "ChatKitError",
    "ChatStream",
    "ConfigurationError",
    "ConflictError",
    "FileInput",
    "HeadersSource",
    "InternalServerError",
    "InvalidInputError",
    "NotFoundError",
    "PermissionDeniedError",
    "ProgressCallback",
    "RateLimitError",
    "Reply",
    "ResponseTooLargeError",
    "StreamDecodeError",
    "StreamEndedEarlyError",
    "StreamError",
    "StreamInterruptedError",
    "SyncPage",
    "Timeout",
    "ToolHandler",
    "ToolRoundsExceededError",
    "UnprocessableEntityError",
    "__version__",
]
