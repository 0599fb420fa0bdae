"""`ChatKit` and `AsyncChatKit`: configuration and lifecycle; the I/O lives in the transports.

`_BaseChatKit` holds everything that does no I/O (environment, URLs, headers, request specs), so
the two shells only differ where they must: which transport they hold and `await`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from ._async.requester import AsyncRequester
from ._constants import DEFAULT_BASE_URL, DEFAULT_MAX_RESPONSE_SIZE, DEFAULT_MAX_RETRIES
from ._core.chat import DEFAULT_MAX_TOOL_ROUNDS, ToolHandler
from ._core.checks import check_header_value, check_headers, check_timeout, check_url
from ._core.endpoints import Endpoints, HeadersSource
from ._core.files import FileInput
from ._core.hosted_requests import build_session_body
from ._core.redact import install_log_redaction, redact_url
from ._core.reply import Reply
from ._core.requests import FilePart, RequestSpec
from ._core.session import SessionState
from ._core.sse import DEFAULT_MAX_EVENT_SIZE
from ._exceptions import ConfigurationError, InvalidInputError
from ._in_process import InProcess
from ._sentinels import NOT_GIVEN, NotGiven
from ._sync.chat import Chat
from ._sync.requester import SyncRequester
from ._transport import (
    DEFAULT_TIMEOUT,
    AsyncTransport,
    HttpxAsyncClient,
    HttpxClient,
    SyncTransport,
    Timeout,
    TimeoutTypes,
)
from .resources import AsyncFiles, AsyncSessions, AsyncThreads, Files, Sessions, Threads

if TYPE_CHECKING:
    # Imported when an async client makes its first Chat: a sync program never loads asyncio.
    from ._async.chat import AsyncChat
    from .types import ChatSession
    from .types._params import ChatKitConfigurationParam, ExpiresAfterParam, RateLimitsParam, WorkflowParam

__all__ = ["AsyncChatKit", "ChatKit", "HeadersSource"]

T = TypeVar("T")


def _mask(secret: str | None) -> str:
    if not secret:
        return "None"
    return f"'{secret[:5]}…'" if len(secret) > 8 else "'…'"


class _SeedState:
    """What the seed-compatible `create_session`/`send_message` keep between calls, shared by `with_options` copies."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.session: ChatSession | None = None
        self.session_params: dict[str, Any] | None = None
        self.chat: Chat | AsyncChat | None = None

    def remember(self, session: ChatSession, params: dict[str, Any]) -> ChatSession:
        """Keep a session from `create_session`; the next `send_message` starts a new Chat on it."""
        with self.lock:
            self.session = session
            self.session_params = params
            self.chat = None
        return session


class _Setting(Generic[T]):
    """A client setting kept on the client's `Endpoints`, so requests built later see a value changed later."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, objtype: type | None = None) -> _Setting[T]: ...
    @overload
    def __get__(self, obj: _BaseChatKit, objtype: type | None = None) -> T: ...
    def __get__(self, obj: _BaseChatKit | None, objtype: type | None = None) -> T | _Setting[T]:
        if obj is None:
            return self
        value: T = getattr(obj._endpoints, self.name)
        return value

    def __set__(self, obj: _BaseChatKit, value: T) -> None:
        setattr(obj._endpoints, self.name, value)


class _BaseChatKit:
    api_key = _Setting[str | None]()
    base_url = _Setting[str]()
    organization = _Setting[str | None]()
    project = _Setting[str | None]()
    server_url = _Setting[str | None]()
    upload_url = _Setting[str | None]()
    default_headers = _Setting[dict[str, str]]()
    _transport: SyncTransport | AsyncTransport

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        organization: str | None = None,
        project: str | None = None,
        timeout: TimeoutTypes = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        server_url: str | None = None,
        headers: HeadersSource | None = None,
        upload_url: str | None = None,
        max_event_size: int | None = DEFAULT_MAX_EVENT_SIZE,
        total_timeout: float | None = None,
        max_response_size: int | None = DEFAULT_MAX_RESPONSE_SIZE,
    ) -> None:
        self._closed = False
        self._endpoints = Endpoints(check_open=self._ensure_open, headers=headers)
        # The environment is read here and only here, so a client's behaviour is fixed once built.
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY") or None
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.organization = organization if organization is not None else os.environ.get("OPENAI_ORG_ID") or None
        self.project = project if project is not None else os.environ.get("OPENAI_PROJECT_ID") or None
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise InvalidInputError("max_retries", f"must be a whole number of 0 or more, got {max_retries!r}")
        self.max_retries = max_retries
        check_timeout(timeout)
        self.timeout: Timeout = (
            DEFAULT_TIMEOUT if timeout is None else (timeout if isinstance(timeout, Timeout) else Timeout(timeout))
        )
        # Credentials given here are checked now; ones from the environment when a hosted call needs them.
        for name, value in (("api_key", api_key), ("organization", organization), ("project", project)):
            if value:
                check_header_value(value, name)
        self.default_headers = dict(default_headers or {})
        check_headers(self.default_headers, {}, "default_headers")
        if server_url is not None:
            check_url(server_url, "server_url", allow_query=True)
        else:
            base_field = "base_url" if base_url else "base_url (from OPENAI_BASE_URL)"
            check_url(self.base_url, base_field, allow_query=False)
        self.server_url = server_url
        if headers is not None and not (callable(headers) or isinstance(headers, Mapping)):
            raise InvalidInputError("headers", "must be a dict of header values or a callable returning one")
        if isinstance(headers, Mapping):
            check_headers(headers, {}, "headers")
        self._server_headers_source = headers
        if upload_url is not None:
            if server_url is None:
                raise InvalidInputError(
                    "upload_url", "is a self-hosted server's direct-upload URL, given with server_url="
                )
            check_url(upload_url, "upload_url", allow_query=True)
        self.upload_url = upload_url
        if max_event_size is not None and (
            isinstance(max_event_size, bool) or not isinstance(max_event_size, int) or max_event_size < 1
        ):
            raise InvalidInputError(
                "max_event_size", f"must be a positive number of bytes or None, got {max_event_size!r}"
            )
        # The largest stream event accepted (64 MiB by default), so a runaway server cannot exhaust memory.
        self.max_event_size = max_event_size
        install_log_redaction()
        if total_timeout is not None and (
            isinstance(total_timeout, bool) or not isinstance(total_timeout, int | float) or not total_timeout > 0
        ):
            raise InvalidInputError(
                "total_timeout", f"must be a positive number of seconds or None, got {total_timeout!r}"
            )
        # The most one request may take, retries included, and a streamed answer until its end (None: no limit).
        self.total_timeout = None if total_timeout is None else float(total_timeout)
        if max_response_size is not None and (
            isinstance(max_response_size, bool) or not isinstance(max_response_size, int) or max_response_size < 1
        ):
            raise InvalidInputError(
                "max_response_size", f"must be a positive number of bytes or None, got {max_response_size!r}"
            )
        # The largest non-streamed answer read, decompressed (64 MiB by default): a gzip bomb stops there.
        self.max_response_size = max_response_size
        self._seed = _SeedState()

    def _copy_options(
        self, timeout: TimeoutTypes | None, max_retries: int | None, total_timeout: float | NotGiven | None = NOT_GIVEN
    ) -> dict[str, Any]:
        """Constructor arguments of a `with_options` copy (the HTTP client is passed by the shell)."""
        return {
            "api_key": self.api_key,
            "base_url": self.base_url,
            "organization": self.organization,
            "project": self.project,
            "timeout": timeout if timeout is not None else self.timeout,
            "max_retries": self.max_retries if max_retries is None else max_retries,
            "default_headers": self.default_headers,
            "server_url": self.server_url,
            "headers": self._server_headers_source,
            "upload_url": self.upload_url,
            "max_event_size": self.max_event_size,
            "total_timeout": self.total_timeout if isinstance(total_timeout, NotGiven) else total_timeout,
            "max_response_size": self.max_response_size,
        }

    # -- modes ---------------------------------------------------------------------------------
    @property
    def is_self_hosted(self) -> bool:
        """True when this client talks to a self-hosted ChatKit server (`server_url=`)."""
        return self.server_url is not None

    def _require_hosted(self, what: str) -> None:
        self._endpoints.require_hosted(what)

    def _session_state(
        self,
        *,
        user: object,
        workflow: object,
        client_secret: object,
        chatkit_configuration: object,
        expires_after: object,
        rate_limits: object,
    ) -> SessionState | None:
        """How a new Chat authenticates: nothing (self-hosted), a fixed secret, or sessions it creates."""
        hosted_args = {
            "user": user,
            "workflow": workflow,
            "client_secret": client_secret,
            "chatkit_configuration": chatkit_configuration,
            "expires_after": expires_after,
            "rate_limits": rate_limits,
        }
        given = [name for name, value in hosted_args.items() if value is not None]
        if self.server_url is not None:
            if given:
                raise InvalidInputError(
                    given[0], "is for OpenAI's hosted API; a self-hosted chat needs no session arguments"
                )
            return None
        if client_secret is not None:
            others = [name for name in given if name != "client_secret"]
            if others:
                raise InvalidInputError(
                    others[0], "cannot be combined with client_secret= (the session already exists)"
                )
            if not isinstance(client_secret, str) or not client_secret.strip():
                raise InvalidInputError("client_secret", "must be a session's client secret ('ek_...')")
            return SessionState(client_secret=client_secret)
        if user is None or workflow is None:
            missing = "user" if user is None else "workflow"
            raise InvalidInputError(
                missing,
                "a hosted chat needs user= and workflow= (to create sessions), or client_secret= (an existing one)",
            )
        params = {
            "user": user,
            "workflow": workflow,
            "chatkit_configuration": chatkit_configuration,
            "expires_after": expires_after,
            "rate_limits": rate_limits,
        }
        build_session_body(**params)  # checks everything now, before any request
        self._api_headers()  # fails now, naming OPENAI_API_KEY, if there is no key
        return SessionState(params=params)

    def _seed_chat_fits(self, chat: Chat | AsyncChat | None, client_secret: str | None) -> bool:
        """Whether `send_message` can go on with the Chat it used last time."""
        if chat is None:
            return False
        state = chat._session
        if self.server_url is not None:
            return True
        if client_secret is not None:
            return state is not None and state.fixed_secret == client_secret
        return state is not None and state.params is not None

    def _seed_session(self, client_secret: str | None) -> SessionState | None:
        """The session of a new `send_message` Chat: the secret given, or the one `create_session` stored."""
        if self.server_url is not None:
            return None
        if client_secret is not None:
            return SessionState(client_secret=client_secret)
        if self._seed.session is None or self._seed.session_params is None:
            raise ConfigurationError(
                "send_message needs a session: call client.create_session(user_id=..., workflow_id=...) first, "
                "or pass client_secret="
            )
        return SessionState(params=self._seed.session_params, session=self._seed.session)

    # -- request specs (pure, in `_core.endpoints`) ---------------------------------------------
    def _ensure_open(self) -> None:
        """Refuse a request on a closed client (or one whose shared connection pool was closed)."""
        if self._closed or self._transport.client.is_closed:
            raise ConfigurationError(
                f"this {type(self).__name__} has been closed; create a new client (or use it in a `with` block "
                "and make the calls inside it)"
            )

    def _api_headers(self) -> dict[str, str]:
        return self._endpoints.api_headers()

    def _api_spec(
        self,
        method: str,
        path: str,
        *,
        json: object | None = None,
        params: Mapping[str, str | int] | None = None,
    ) -> RequestSpec:
        return self._endpoints.api(method, path, json=json, params=params)

    def _secret_spec(
        self,
        method: str,
        path: str,
        client_secret: str,
        *,
        json: object | None = None,
        files: Mapping[str, FilePart] | None = None,
        accept: str = "application/json",
        idempotent: bool = False,
        not_found_hint: str | None = None,
    ) -> RequestSpec:
        return self._endpoints.with_secret(
            method,
            path,
            client_secret,
            json=json,
            files=files,
            accept=accept,
            idempotent=idempotent,
            not_found_hint=not_found_hint,
        )

    def _protocol_spec(self, request: dict[str, Any], client_secret: str | None) -> RequestSpec:
        return self._endpoints.protocol(request, client_secret)

    def _server_headers(self) -> dict[str, str]:
        return self._endpoints.server_headers()

    def __repr__(self) -> str:
        if self.server_url is not None:
            return f"{type(self).__name__}(server_url={redact_url(self.server_url)!r})"
        return f"{type(self).__name__}(base_url={redact_url(self.base_url)!r}, api_key={_mask(self.api_key)})"


# The constructor parameters, written once for both clients' docstrings (`help(ChatKit)`).
_PARAMETERS_DOC = """\
Parameters (all keyword-only except `api_key`; `help(ChatKit.__init__)` lists them with their defaults):

    - `api_key`: OpenAI API key for the hosted API, default `$OPENAI_API_KEY`. Needed for `sessions`,
      `threads` and `chat(user=..., workflow=...)`; not for `chat(client_secret=...)` nor self-hosted servers.
    - `base_url`: the hosted API's base URL, default `$OPENAI_BASE_URL`, else `https://api.openai.com/v1`.
    - `organization`, `project`: sent as `OpenAI-Organization` / `OpenAI-Project` (default `$OPENAI_ORG_ID`,
      `$OPENAI_PROJECT_ID`).
    - `server_url`: the endpoint of your own ChatKit server (`http(s)://host/chatkit`). Conversations then go
      there, and the hosted-only `sessions`, `threads` and `files` raise `ConfigurationError`.
    - `headers`: headers for `server_url` requests: a dict, or a callable returning one, called before every
      request so rotating tokens stay fresh: `headers=lambda: {"Authorization": f"Bearer {tokens.current()}"}`.
    - `upload_url`: a self-hosted server's direct-upload endpoint (multipart field `file`); without it, uploads
      use the server's two-phase `attachments.create`.
    - `timeout`: seconds, or a `Timeout` (`httpx2.Timeout`); default 600 s per read and 5 s to connect.
    - `max_retries`: how often a failed request is retried (connection errors, 408/409/429/5xx), default 2.
      A message the server may have taken is never sent again.
    - `max_event_size`: the largest stream event accepted, in bytes (default 64 MiB; None: no limit).
    - `max_response_size`: the largest non-streamed answer read, decompressed (default 64 MiB; None: no limit).
    - `total_timeout`: seconds one request may take, retries included, and a streamed answer until its end
      (default None: only `timeout`, per read).
    - `app`, `server`, `context`, `lifespan`: a server in this process: an ASGI app (`lifespan=True` runs its
      start-up), or an openai-chatkit `ChatKitServer` with the `context` its methods receive.
    - `default_headers`: extra headers on every request.
    - `http_client`: your own `{http_client}` (proxies, certificates, transports); `close()` leaves it open.
"""


def _document_parameters(cls: type, http_client: str) -> None:
    assert cls.__doc__ is not None
    text = _PARAMETERS_DOC.replace("{http_client}", http_client).rstrip("\n")
    cls.__doc__ = cls.__doc__.replace("{parameters}", text)


class ChatKit(_BaseChatKit):
    """The synchronous ChatKit client, for OpenAI's hosted API or your own ChatKit server.

    One client may be shared by many threads; it pools connections through one `httpx2.Client`. Close it
    (or use `with`) when done.

    {parameters}

    >>> from chatkit_client import ChatKit
    >>> with ChatKit() as client:  # reads OPENAI_API_KEY
    ...     chat = client.chat(user="user_123", workflow="wf_abc")
    ...     print(chat.send("Hello!").text)
    You said: Hello!
    >>> server = ChatKit(server_url="http://localhost:8000/chatkit", headers={"Authorization": "Bearer app-token"})
    >>> server.chat().send("Hi").text
    'You said: Hi'
    >>> server.close()
    """

    _transport: SyncTransport

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        organization: str | None = None,
        project: str | None = None,
        timeout: TimeoutTypes = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        http_client: HttpxClient | None = None,
        server_url: str | None = None,
        headers: HeadersSource | None = None,
        upload_url: str | None = None,
        max_event_size: int | None = DEFAULT_MAX_EVENT_SIZE,
        app: Any = None,
        server: Any = None,
        context: Any = None,
        lifespan: bool = False,
        total_timeout: float | None = None,
        max_response_size: int | None = DEFAULT_MAX_RESPONSE_SIZE,
    ) -> None:
        # app=/server=: the server runs in this process; server_url becomes the endpoint it is mounted at.
        in_process = InProcess.build(
            app=app, server=server, context=context, lifespan=lifespan, server_url=server_url, http_client=http_client
        )
        if in_process is not None:
            server_url = in_process.server_url
        super().__init__(
            api_key,
            base_url=base_url,
            organization=organization,
            project=project,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
            server_url=server_url,
            headers=headers,
            upload_url=upload_url,
            max_event_size=max_event_size,
            total_timeout=total_timeout,
            max_response_size=max_response_size,
        )
        if in_process is not None:
            http_client = in_process.sync_client(self.timeout)
        self._transport = transport = SyncTransport(
            http_client=http_client,
            timeout=self.timeout,
            max_retries=self.max_retries,
            total_timeout=self.total_timeout,
            max_response_size=self.max_response_size,
        )
        if in_process is not None:
            transport._owns_client = True  # closing the client stops the app (and its lifespan)
        self._requester = SyncRequester(self._endpoints, transport, max_event_size=self.max_event_size)

    @cached_property
    def sessions(self) -> Sessions:
        """Hosted sessions (API key): `create` and `cancel`."""
        self._require_hosted("client.sessions")
        return Sessions(self)

    @cached_property
    def threads(self) -> Threads:
        """Hosted threads admin (API key): `list`, `retrieve`, `delete`, `list_items`."""
        self._require_hosted("client.threads")
        return Threads(self)

    @cached_property
    def files(self) -> Files:
        """Hosted uploads (client secret): `upload`."""
        self._require_hosted("client.files")
        return Files(self)

    def with_options(
        self,
        *,
        timeout: TimeoutTypes | None = None,
        max_retries: int | None = None,
        total_timeout: float | NotGiven | None = NOT_GIVEN,
    ) -> ChatKit:
        """A copy with another timeout, retry count or total timeout, sharing this client's connections and
        seed session (`total_timeout=None` removes the overall limit).

        >>> client.with_options(timeout=10, max_retries=0).sessions.cancel("cksess_...")  # doctest: +SKIP
        >>> client.with_options(total_timeout=30).chat().send("Hello")  # doctest: +SKIP
        """
        copy = ChatKit(**self._copy_options(timeout, max_retries, total_timeout), http_client=self._transport.client)
        copy._seed = self._seed
        return copy

    def create_session(
        self,
        *,
        user_id: str,
        workflow_id: str,
        chatkit_configuration: ChatKitConfigurationParam | None = None,
        expires_after: ExpiresAfterParam | None = None,
        rate_limits: RateLimitsParam | None = None,
    ) -> ChatSession:
        """Create a session and keep it on this client for `send_message` (the Ruby gem's `create_session!`).

        >>> client.create_session(user_id="user_123", workflow_id="wf_abc")  # doctest: +SKIP
        """
        params: dict[str, Any] = {
            "user": user_id,
            "workflow": workflow_id,
            "chatkit_configuration": chatkit_configuration,
            "expires_after": expires_after,
            "rate_limits": rate_limits,
        }
        return self._seed.remember(self.sessions.create(**params), params)

    def chat(
        self,
        *,
        user: str | None = None,
        workflow: str | WorkflowParam | None = None,
        client_secret: str | None = None,
        chatkit_configuration: ChatKitConfigurationParam | None = None,
        expires_after: ExpiresAfterParam | None = None,
        rate_limits: RateLimitsParam | None = None,
        thread_id: str | None = None,
        client_tools: Mapping[str, ToolHandler] | None = None,
        max_tool_rounds: int = DEFAULT_MAX_TOOL_ROUNDS,
    ) -> Chat:
        """A conversation. Hosted: `user=` and `workflow=` (sessions created and renewed for you) or
        `client_secret=`; self-hosted: no arguments. `thread_id=` continues an existing thread.
        `max_tool_rounds` caps the client tool calls answered in one turn (`ToolRoundsExceededError` past it).

        >>> chat = client.chat(user="user_123", workflow="wf_abc")
        >>> chat.send("Hello!").text
        'You said: Hello!'
        >>> chat.send("And again").thread_id == chat.thread_id
        True
        """
        session = self._session_state(
            user=user,
            workflow=workflow,
            client_secret=client_secret,
            chatkit_configuration=chatkit_configuration,
            expires_after=expires_after,
            rate_limits=rate_limits,
        )
        return Chat(
            self._requester,
            session=session,
            thread_id=thread_id,
            client_tools=client_tools,
            max_tool_rounds=max_tool_rounds,
        )

    def send_message(
        self, *, text: str, files: Sequence[FileInput] | None = None, client_secret: str | None = None
    ) -> Reply:
        """Send a message on this client's conversation (the Ruby gem's `send_message!`); one thread per client.

        >>> client.create_session(user_id="user_123", workflow_id="wf_abc")  # doctest: +SKIP
        >>> print(client.send_message(text="Hello, how are you?").text)  # doctest: +SKIP
        """
        with self._seed.lock:
            chat = self._seed.chat
            if not isinstance(chat, Chat) or not self._seed_chat_fits(chat, client_secret):
                previous = chat.thread_id if chat is not None else None
                chat = Chat(self._requester, session=self._seed_session(client_secret), thread_id=previous)
                self._seed.chat = chat
        return chat.send(text, files=files)

    def close(self) -> None:
        """Close the connection pool (unless it was passed in as `http_client`); later calls raise
        `ConfigurationError`."""
        self._closed = True
        self._transport.close()

    def __enter__(self) -> ChatKit:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncChatKit(_BaseChatKit):
    """The asynchronous ChatKit client; the same surface as `ChatKit`, awaited.

    One client may be shared by many tasks; it pools connections through one `httpx2.AsyncClient`. List
    methods return an `AsyncPaginator`: `async for thread in client.threads.list(user=...)` walks every page.

    {parameters}

    >>> import asyncio
    >>> from chatkit_client import AsyncChatKit
    >>> async def main() -> str:
    ...     async with AsyncChatKit() as client:  # reads OPENAI_API_KEY
    ...         chat = client.chat(user="user_123", workflow="wf_abc")
    ...         reply = await chat.send("Hello!")
    ...         return reply.text
    >>> asyncio.run(main())
    'You said: Hello!'
    """

    _transport: AsyncTransport

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        organization: str | None = None,
        project: str | None = None,
        timeout: TimeoutTypes = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        http_client: HttpxAsyncClient | None = None,
        server_url: str | None = None,
        headers: HeadersSource | None = None,
        upload_url: str | None = None,
        max_event_size: int | None = DEFAULT_MAX_EVENT_SIZE,
        app: Any = None,
        server: Any = None,
        context: Any = None,
        lifespan: bool = False,
        total_timeout: float | None = None,
        max_response_size: int | None = DEFAULT_MAX_RESPONSE_SIZE,
    ) -> None:
        # app=/server=: the server runs in this process; server_url becomes the endpoint it is mounted at.
        in_process = InProcess.build(
            app=app, server=server, context=context, lifespan=lifespan, server_url=server_url, http_client=http_client
        )
        if in_process is not None:
            server_url = in_process.server_url
        super().__init__(
            api_key,
            base_url=base_url,
            organization=organization,
            project=project,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
            server_url=server_url,
            headers=headers,
            upload_url=upload_url,
            max_event_size=max_event_size,
            total_timeout=total_timeout,
            max_response_size=max_response_size,
        )
        if in_process is not None:
            http_client = in_process.async_client(self.timeout)
        self._transport = transport = AsyncTransport(
            http_client=http_client,
            timeout=self.timeout,
            max_retries=self.max_retries,
            total_timeout=self.total_timeout,
            max_response_size=self.max_response_size,
        )
        if in_process is not None:
            transport._owns_client = True  # closing the client stops the app (and its lifespan)
        self._requester = AsyncRequester(self._endpoints, transport, max_event_size=self.max_event_size)

    @cached_property
    def sessions(self) -> AsyncSessions:
        """Hosted sessions (API key): `create` and `cancel`."""
        self._require_hosted("client.sessions")
        return AsyncSessions(self)

    @cached_property
    def threads(self) -> AsyncThreads:
        """Hosted threads admin (API key): `list`, `retrieve`, `delete`, `list_items`."""
        self._require_hosted("client.threads")
        return AsyncThreads(self)

    @cached_property
    def files(self) -> AsyncFiles:
        """Hosted uploads (client secret): `upload`."""
        self._require_hosted("client.files")
        return AsyncFiles(self)

    def with_options(
        self,
        *,
        timeout: TimeoutTypes | None = None,
        max_retries: int | None = None,
        total_timeout: float | NotGiven | None = NOT_GIVEN,
    ) -> AsyncChatKit:
        """A copy with another timeout, retry count or total timeout, sharing this client's connections and
        seed session (`total_timeout=None` removes the overall limit)."""
        copy = AsyncChatKit(
            **self._copy_options(timeout, max_retries, total_timeout), http_client=self._transport.client
        )
        copy._seed = self._seed
        return copy

    async def create_session(
        self,
        *,
        user_id: str,
        workflow_id: str,
        chatkit_configuration: ChatKitConfigurationParam | None = None,
        expires_after: ExpiresAfterParam | None = None,
        rate_limits: RateLimitsParam | None = None,
    ) -> ChatSession:
        """Create a session and keep it on this client for `send_message` (the Ruby gem's `create_session!`)."""
        params: dict[str, Any] = {
            "user": user_id,
            "workflow": workflow_id,
            "chatkit_configuration": chatkit_configuration,
            "expires_after": expires_after,
            "rate_limits": rate_limits,
        }
        return self._seed.remember(await self.sessions.create(**params), params)

    def chat(
        self,
        *,
        user: str | None = None,
        workflow: str | WorkflowParam | None = None,
        client_secret: str | None = None,
        chatkit_configuration: ChatKitConfigurationParam | None = None,
        expires_after: ExpiresAfterParam | None = None,
        rate_limits: RateLimitsParam | None = None,
        thread_id: str | None = None,
        client_tools: Mapping[str, ToolHandler] | None = None,
        max_tool_rounds: int = DEFAULT_MAX_TOOL_ROUNDS,
    ) -> AsyncChat:
        """A conversation. Hosted: `user=` and `workflow=` (sessions created and renewed for you) or
        `client_secret=`; self-hosted: no arguments. `thread_id=` continues an existing thread.
        `max_tool_rounds` caps the client tool calls answered in one turn (`ToolRoundsExceededError` past it).

        >>> chat = client.chat(user="user_123", workflow="wf_abc")  # doctest: +SKIP
        >>> (await chat.send("Hello!")).text  # doctest: +SKIP
        'You said: Hello!'
        """
        session = self._session_state(
            user=user,
            workflow=workflow,
            client_secret=client_secret,
            chatkit_configuration=chatkit_configuration,
            expires_after=expires_after,
            rate_limits=rate_limits,
        )
        from ._async.chat import AsyncChat

        return AsyncChat(
            self._requester,
            session=session,
            thread_id=thread_id,
            client_tools=client_tools,
            max_tool_rounds=max_tool_rounds,
        )

    async def send_message(
        self, *, text: str, files: Sequence[FileInput] | None = None, client_secret: str | None = None
    ) -> Reply:
        """Send a message on this client's conversation (the Ruby gem's `send_message!`); one thread per client.

        >>> await client.create_session(user_id="user_123", workflow_id="wf_abc")  # doctest: +SKIP
        >>> print((await client.send_message(text="Hello, how are you?")).text)  # doctest: +SKIP
        """
        from ._async.chat import AsyncChat

        with self._seed.lock:
            chat = self._seed.chat
            if not isinstance(chat, AsyncChat) or not self._seed_chat_fits(chat, client_secret):
                previous = chat.thread_id if chat is not None else None
                chat = AsyncChat(self._requester, session=self._seed_session(client_secret), thread_id=previous)
                self._seed.chat = chat
        return await chat.send(text, files=files)

    async def close(self) -> None:
        """Close the connection pool (unless it was passed in as `http_client`); later calls raise
        `ConfigurationError`."""
        self._closed = True
        await self._transport.close()

    async def __aenter__(self) -> AsyncChatKit:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


_document_parameters(ChatKit, "httpx2.Client")
_document_parameters(AsyncChatKit, "httpx2.AsyncClient")
