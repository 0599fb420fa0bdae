"""The exceptions raised by chatkit-client.

Every exception the library raises on purpose derives from `ChatKitError`:

```
ChatKitError
├── APIError                     the server or the network failed a request
│   ├── APIStatusError           a non-2xx answer (status_code, request_id, body, code, type, param)
│   │   ├── BadRequestError              400
│   │   ├── AuthenticationError          401
│   │   ├── PermissionDeniedError        403
│   │   ├── NotFoundError                404
│   │   ├── ConflictError                409
│   │   ├── UnprocessableEntityError     422
│   │   ├── RateLimitError               429
│   │   └── InternalServerError          >= 500
│   ├── APIConnectionError       no usable answer: refused, reset, closed, TLS, ...
│   │   └── APITimeoutError      a connect, read, write or pool timeout
│   └── APIResponseValidationError   a 2xx answer whose body is not what the API documents
│       └── ResponseTooLargeError    an answer larger than the client's max_response_size
├── StreamError                  an `error` event arrived in a conversation stream (message, code, allow_retry, reply)
├── StreamInterruptedError       the stream stopped before the turn finished; `reply` keeps what arrived
│   └── StreamEndedEarlyError    the server took the request (2xx), then closed or emptied its stream: never resent
├── StreamDecodeError            an event could not be decoded or broke a limit; `reply` keeps what arrived before it
├── ToolRoundsExceededError      client tool calls went on past `max_tool_rounds`; `reply` keeps the turn
├── ConfigurationError           the client is not set up for the call (no API key, wrong mode)
└── InvalidInputError            also a ValueError: input rejected before anything was sent
```

Every one has `.message`, the human-readable text (for `StreamError`, the server's own message).
No message built here ever contains an API key or a client secret.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from ._core.redact import redact_url, scrub

if TYPE_CHECKING:
    from ._core.reply import Reply

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ChatKitError",
    "ConfigurationError",
    "ConflictError",
    "InternalServerError",
    "InvalidInputError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseTooLargeError",
    "StreamDecodeError",
    "StreamEndedEarlyError",
    "StreamError",
    "StreamInterruptedError",
    "ToolRoundsExceededError",
    "UnprocessableEntityError",
]


class ChatKitError(Exception):
    """Base class of every exception raised by chatkit-client.

    `message` is the human-readable text, as in openai-python's `APIError.message`.

    ```python
    try:
        chat.send("hi")
    except ChatKitError as err:
        print(err.message)
    ```
    """

    message: str

    def __init__(self, message: str = "", *args: object) -> None:
        super().__init__(message, *args)
        self.message = message


class ConfigurationError(ChatKitError):
    """The client lacks what the call needs (an API key, a session, the right mode)."""


class InvalidInputError(ChatKitError, ValueError):
    """Input the client rejected before sending anything.

    `field` names the offending argument, for example `"expires_after.seconds"`.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class APIError(ChatKitError):
    """A request failed at the server or in the network.

    `code`, `type` and `param` come from OpenAI's `{"error": {...}}` body when there is one.
    """

    message: str
    method: str | None
    url: str | None
    body: object | None
    code: str | None
    type: str | None
    param: str | None

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        url: str | None = None,
        body: object | None = None,
    ) -> None:
        if url is not None:
            # A safety net: whatever built the message, credentials in the URL do not reach it.
            message, url = scrub(message, url), redact_url(url)
        super().__init__(message)
        self.message = message
        self.method = method
        self.url = url
        self.body = body
        error = _error_object(body)
        self.code = _str_or_none(error.get("code"))
        self.type = _str_or_none(error.get("type"))
        self.param = _str_or_none(error.get("param"))


class APIStatusError(APIError):
    """The server answered with a status code outside 2xx."""

    status_code: int
    request_id: str | None
    headers: dict[str, str]

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        method: str | None = None,
        url: str | None = None,
        body: object | None = None,
        request_id: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, method=method, url=url, body=body)
        self.status_code = status_code
        self.request_id = request_id
        self.headers = headers or {}

    def __str__(self) -> str:
        text = f"Error code: {self.status_code} - {self.message}"
        if self.code:
            text += f" (code: {self.code})"
        if self.request_id:
            text += f" [request id: {self.request_id}]"
        return text


class BadRequestError(APIStatusError):
    status_code: Literal[400]


class AuthenticationError(APIStatusError):
    status_code: Literal[401]


class PermissionDeniedError(APIStatusError):
    status_code: Literal[403]


class NotFoundError(APIStatusError):
    status_code: Literal[404]


class ConflictError(APIStatusError):
    status_code: Literal[409]


class UnprocessableEntityError(APIStatusError):
    status_code: Literal[422]


class RateLimitError(APIStatusError):
    status_code: Literal[429]


class InternalServerError(APIStatusError):
    """Any status code of 500 or more."""


class APIConnectionError(APIError):
    """No usable answer arrived: the connection was refused, reset or closed early."""

    def __init__(self, message: str = "Connection error.", *, method: str | None = None, url: str | None = None):
        super().__init__(message, method=method, url=url)


class BodyFailedAfterStatusError(APIConnectionError):
    """Internal: a 2xx streaming answer whose body failed before its first byte (the transport raises it).

    The conversation shells turn it into `StreamEndedEarlyError` with the partial reply; `status_code`
    and `headers` are the answer's.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        headers: dict[str, str] | None = None,
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message, method=method, url=url)
        self.status_code = status_code
        self.headers = headers or {}


class APITimeoutError(APIConnectionError):
    """A connect, read, write or pool timeout expired."""

    def __init__(self, message: str = "Request timed out.", *, method: str | None = None, url: str | None = None):
        super().__init__(message, method=method, url=url)


class APIResponseValidationError(APIError):
    """A 2xx answer whose body does not have the documented shape."""


class ResponseTooLargeError(APIResponseValidationError):
    """An answer (decompressed) was larger than the client's `max_response_size`; `limit` is that size in bytes.

    Reading stopped at the limit, so a runaway or compressed-bomb answer never fills memory.
    """

    def __init__(self, message: str, *, limit: int, method: str | None = None, url: str | None = None) -> None:
        super().__init__(message, method=method, url=url)
        self.limit = limit


class _PartialReplyError(ChatKitError):
    """An error raised mid-stream: `reply` holds everything received before it."""

    reply: Reply | None

    def __init__(self, message: str, *, reply: Reply | None = None) -> None:
        super().__init__(message)
        self.reply = reply


class StreamError(_PartialReplyError):
    """The server sent an `error` event in a conversation stream.

    `code` is the protocol's error code (`"stream.error"`, `"custom"`, ...), `allow_retry` says whether the
    server thinks `Chat.retry()` may help, and `reply` holds everything received before the error.
    """

    def __init__(
        self,
        message: str | None,
        *,
        code: str | None,
        allow_retry: bool = False,
        reply: Reply | None = None,
    ) -> None:
        text = message or "the server reported an error in the stream"
        super().__init__(text, reply=reply)
        # Like openai-python's APIError.message: the server's own words, without our prefix.
        self.message = text
        self.code = code
        self.allow_retry = allow_retry
        self._sent = message

    @property
    def error_message(self) -> str | None:
        """The server's message as sent (None when it sent none); `message` is the usual name."""
        return self._sent

    def __str__(self) -> str:
        return f"{self.code or 'error'}: {self.message}"


class StreamInterruptedError(_PartialReplyError):
    """The stream stopped before the turn finished (a timeout, a broken connection); `reply` keeps what arrived."""


class StreamEndedEarlyError(StreamInterruptedError):
    """The server accepted the request (a 2xx status) but its stream ended before the answer did.

    Raised when the stream closed without a proper end, or ended without a single event (an empty
    body, bytes that are not events, an encoding this client cannot decode). A server that fails after
    sending its 200 status does this (openai-chatkit behind `StreamingResponse`, for an unknown thread
    id, a tool output with no pending call, ...): its log has the cause. The server took the request,
    so it was not sent again. `events_received` counts the events that did arrive (in `reply`).

    ```python
    try:
        chat.send("hi")
    except StreamEndedEarlyError as err:
        print(err.message, err.events_received, err.reply.text if err.reply else "")
    ```
    """

    def __init__(self, message: str, *, events_received: int = 0, reply: Reply | None = None) -> None:
        super().__init__(message, reply=reply)
        self.events_received = events_received


class ToolRoundsExceededError(_PartialReplyError):
    """The server kept asking for client tool calls past `max_tool_rounds`; `reply` keeps the whole turn.

    Raise the cap with `client.chat(max_tool_rounds=...)` if your workflow really needs more rounds.
    """

    def __init__(self, message: str, *, max_tool_rounds: int, reply: Reply | None = None) -> None:
        super().__init__(message, reply=reply)
        self.max_tool_rounds = max_tool_rounds


class StreamDecodeError(_PartialReplyError):
    """An event in the stream could not be decoded; `data` is its raw text (possibly shortened)."""

    def __init__(self, message: str, *, data: str | None = None, reply: Reply | None = None) -> None:
        super().__init__(message, reply=reply)
        self.data = data


_STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error_class(status_code: int) -> type[APIStatusError]:
    """The exception class for a non-2xx status code."""
    if status_code >= 500:
        return InternalServerError
    return _STATUS_ERRORS.get(status_code, APIStatusError)


def error_message_from_body(body: object, status_code: int) -> str:
    """The human message of an error body: OpenAI's `error.message`, else a short excerpt."""
    message = _error_object(body).get("message")
    if isinstance(message, str) and message:
        return message
    if isinstance(body, str) and body.strip():
        text = " ".join(body.split())
        return text if len(text) <= 200 else text[:200] + "..."
    return f"the server answered {status_code} with no error message"


def _error_object(body: object) -> dict[str, Any]:
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            return error
    return {}


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None
