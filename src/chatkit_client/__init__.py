"""chatkit-client: the Python client for ChatKit, OpenAI's chat protocol.

Talk to OpenAI's hosted ChatKit API or to your own ChatKit server (built with `openai-chatkit`)
through one API, sync or async:

>>> from chatkit_client import ChatKit
>>> client = ChatKit(server_url="http://localhost:8000/chatkit")  # doctest: +SKIP
>>> print(client.chat().send("Hello!").text)  # doctest: +SKIP

Typed events and items live in `chatkit_client.types`; the offline test kit (a hosted-API emulator
and a local ChatKit server) in `chatkit_client.testing`.
"""

from ._async_chat import AsyncChat, AsyncChatStream
from ._chat import Chat, ChatStream
from ._chat_core import ToolHandler
from ._client import AsyncChatKit, ChatKit, HeadersSource
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
    StreamDecodeError,
    StreamError,
    StreamInterruptedError,
    UnprocessableEntityError,
)
from ._files import FileInput, ProgressCallback
from ._pagination import AsyncPage, SyncPage
from ._reply import Reply
from ._transport import Timeout
from ._version import __version__

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
    "StreamDecodeError",
    "StreamError",
    "StreamInterruptedError",
    "SyncPage",
    "Timeout",
    "ToolHandler",
    "UnprocessableEntityError",
    "__version__",
]
