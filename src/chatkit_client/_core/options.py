"""A client's options, read from the environment and checked once, and how a new Chat authenticates.

`ClientOptions` is the part of `ChatKit` and `AsyncChatKit` that does no I/O: every constructor argument is
checked here before anything is sent; the settings that requests are built from live on the client's
`Endpoints`; `chat()` and `send_message` decide here which session a new Chat uses. The shells add the
transport, the default `Timeout` object (an httpx2 one, so built there) and the calls that send.

Imports: stdlib, types, _exceptions, _constants, _sentinels, and core: checks, endpoints, hosted_requests,
redact, session, sse.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from .._constants import DEFAULT_BASE_URL, DEFAULT_MAX_RESPONSE_SIZE, DEFAULT_MAX_RETRIES
from .._exceptions import ConfigurationError, InvalidInputError
from .._sentinels import NOT_GIVEN, NotGiven
from .checks import check_header_value, check_headers, check_timeout, check_url
from .endpoints import Endpoints, HeadersSource
from .hosted_requests import build_session_body
from .redact import install_log_redaction, redact_url
from .session import SessionState
from .sse import DEFAULT_MAX_EVENT_SIZE

if TYPE_CHECKING:
    from ..types import ChatSession

__all__ = ["ClientOptions", "SeedState", "document_parameters"]

T = TypeVar("T")
ChatT = TypeVar("ChatT")


def _mask(secret: str | None) -> str:
    if not secret:
        return "None"
    return f"'{secret[:5]}…'" if len(secret) > 8 else "'…'"


class SeedState(Generic[ChatT]):
    """What the seed-compatible `create_session`/`send_message` keep between calls, shared by `with_options` copies."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.session: ChatSession | None = None
        self.session_params: dict[str, Any] | None = None
        self.chat: ChatT | None = None

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
    def __get__(self, obj: ClientOptions, objtype: type | None = None) -> T: ...
    def __get__(self, obj: ClientOptions | None, objtype: type | None = None) -> T | _Setting[T]:
        if obj is None:
            return self
        value: T = getattr(obj._endpoints, self.name)
        return value

    def __set__(self, obj: ClientOptions, value: T) -> None:
        setattr(obj._endpoints, self.name, value)


class ClientOptions:
    """The options of a client, checked once: the base of `ChatKit` and `AsyncChatKit`.

    `check_open` is called before every request is built (the shell passes one that refuses a closed client).
    `timeout` is only checked here; the shell turns it into the `Timeout` it keeps as `self.timeout`.
    """

    api_key = _Setting[str | None]()
    base_url = _Setting[str]()
    organization = _Setting[str | None]()
    project = _Setting[str | None]()
    server_url = _Setting[str | None]()
    upload_url = _Setting[str | None]()
    default_headers = _Setting[dict[str, str]]()
    timeout: object  # set by the shell: an `httpx2.Timeout`

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        organization: str | None = None,
        project: str | None = None,
        timeout: object = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        server_url: str | None = None,
        headers: HeadersSource | None = None,
        upload_url: str | None = None,
        max_event_size: int | None = DEFAULT_MAX_EVENT_SIZE,
        total_timeout: float | None = None,
        max_response_size: int | None = DEFAULT_MAX_RESPONSE_SIZE,
        check_open: Callable[[], None],
    ) -> None:
        self._closed = False
        self._endpoints = Endpoints(check_open=check_open, headers=headers)
        # The environment is read here and only here, so a client's behaviour is fixed once built.
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY") or None
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.organization = organization if organization is not None else os.environ.get("OPENAI_ORG_ID") or None
        self.project = project if project is not None else os.environ.get("OPENAI_PROJECT_ID") or None
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise InvalidInputError("max_retries", f"must be a whole number of 0 or more, got {max_retries!r}")
        self.max_retries = max_retries
        check_timeout(timeout)
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
        # The shell narrows the type: `SeedState[Chat]` or `SeedState[AsyncChat]`.
        self._seed: SeedState[Any] = SeedState()

    def _copy_options(
        self, timeout: object | None, max_retries: int | None, total_timeout: float | NotGiven | None = NOT_GIVEN
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

    @property
    def is_self_hosted(self) -> bool:
        """True when this client talks to a self-hosted ChatKit server (`server_url=`)."""
        return self.server_url is not None

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
        self._endpoints.api_headers()  # fails now, naming OPENAI_API_KEY, if there is no key
        return SessionState(params=params)

    def _seed_chat_fits(self, state: SessionState | None, client_secret: str | None) -> bool:
        """Whether `send_message` can go on with the Chat it used last time (`state`: that Chat's session)."""
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


def document_parameters(cls: type, http_client: str) -> None:
    """Put the constructor parameters into `cls`'s docstring, at its `{parameters}` line."""
    assert cls.__doc__ is not None
    text = _PARAMETERS_DOC.replace("{http_client}", http_client).rstrip("\n")
    cls.__doc__ = cls.__doc__.replace("{parameters}", text)
