"""`AsyncChatKit`: a client's lifecycle, the transport it holds, and the resources and chats it hands out.

What needs no I/O (checking the options, choosing a Chat's session) is in `_core.options`; requests are built by
`_core.endpoints` and sent through this shell's requester.

Imports: `_core`, the transport, the in-process server adapter, and this shell's requester and resources; the
Chat shell when the first chat is made.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .._constants import DEFAULT_MAX_RESPONSE_SIZE, DEFAULT_MAX_RETRIES
from .._core.chat import DEFAULT_MAX_TOOL_ROUNDS, ToolHandler
from .._core.endpoints import HeadersSource
from .._core.files import FileInput
from .._core.options import ClientOptions, SeedState, document_parameters
from .._core.session import SessionState
from .._core.sse import DEFAULT_MAX_EVENT_SIZE
from .._exceptions import ConfigurationError
from .._http import DEFAULT_TIMEOUT, HttpxAsyncClient, Timeout, TimeoutTypes
from .._in_process import InProcess
from .._sentinels import NOT_GIVEN, NotGiven
from .requester import AsyncRequester
from .transport import AsyncTransport

# Models, resources and the Chat are imported on first use: `from chatkit_client import ChatKit` loads no
# pydantic, so a program's start-up pays only for what it calls.
if TYPE_CHECKING:
    from .._core.reply import Reply
    from ..types import ChatSession
    from ..types._params import ChatKitConfigurationParam, ExpiresAfterParam, RateLimitsParam, WorkflowParam
    from .chat import AsyncChat
    from .resources import AsyncFiles, AsyncSessions, AsyncThreads

__all__ = ["AsyncChatKit"]


class AsyncChatKit(ClientOptions):
    # unasync: sync-only begin
    # """The synchronous ChatKit client, for OpenAI's hosted API or your own ChatKit server.
    #
    # One client may be shared by many threads; it pools connections through one `httpx2.Client`. Close it
    # (or use `with`) when done.
    #
    # {parameters}
    #
    # >>> from chatkit_client import ChatKit
    # >>> with ChatKit() as client:  # reads OPENAI_API_KEY
    # ...     chat = client.chat(user="user_123", workflow="wf_abc")
    # ...     print(chat.send("Hello!").text)
    # You said: Hello!
    # >>> server = ChatKit(server_url="http://localhost:8000/chatkit", headers={"Authorization": "Bearer app-token"})
    # >>> server.chat().send("Hi").text
    # 'You said: Hi'
    # >>> server.close()
    # """
    # unasync: sync-only end
    # unasync: async-only begin
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
    # unasync: async-only end

    timeout: Timeout
    _transport: AsyncTransport
    _seed: SeedState[AsyncChat]

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
            check_open=self._ensure_open,
        )
        self.timeout = (
            DEFAULT_TIMEOUT if timeout is None else (timeout if isinstance(timeout, Timeout) else Timeout(timeout))
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

    def _ensure_open(self) -> None:
        """Refuse a request on a closed client (or one whose shared connection pool was closed)."""
        if self._closed or self._transport.client.is_closed:
            raise ConfigurationError(
                f"this {type(self).__name__} has been closed; create a new client (or use it in a `with` block "
                "and make the calls inside it)"
            )

    @cached_property
    def sessions(self) -> AsyncSessions:
        """Hosted sessions (API key): `create` and `cancel`."""
        self._endpoints.require_hosted("client.sessions")
        from .resources import AsyncSessions

        return AsyncSessions(self._requester)

    @cached_property
    def threads(self) -> AsyncThreads:
        """Hosted threads admin (API key): `list`, `retrieve`, `delete`, `list_items`."""
        self._endpoints.require_hosted("client.threads")
        from .resources import AsyncThreads

        return AsyncThreads(self._requester)

    @cached_property
    def files(self) -> AsyncFiles:
        """Hosted uploads (client secret): `upload`."""
        self._endpoints.require_hosted("client.files")
        from .resources import AsyncFiles

        return AsyncFiles(self._requester)

    def with_options(
        self,
        *,
        timeout: TimeoutTypes | None = None,
        max_retries: int | None = None,
        total_timeout: float | NotGiven | None = NOT_GIVEN,
    ) -> AsyncChatKit:
        """A copy with another timeout, retry count or total timeout, sharing this client's connections and
        seed session (`total_timeout=None` removes the overall limit).

        >>> await client.with_options(timeout=10, max_retries=0).sessions.cancel("cksess_...")  # doctest: +SKIP
        >>> await client.with_options(total_timeout=30).chat().send("Hello")  # doctest: +SKIP
        """
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
        """Create a session and keep it on this client for `send_message` (the Ruby gem's `create_session!`).

        >>> await client.create_session(user_id="user_123", workflow_id="wf_abc")  # doctest: +SKIP
        """
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
        # unasync: sync-only begin
        # """A conversation. Hosted: `user=` and `workflow=` (sessions created and renewed for you) or
        # `client_secret=`; self-hosted: no arguments. `thread_id=` continues an existing thread.
        # `max_tool_rounds` caps the client tool calls answered in one turn (`ToolRoundsExceededError` past it).
        #
        # >>> chat = client.chat(user="user_123", workflow="wf_abc")
        # >>> chat.send("Hello!").text
        # 'You said: Hello!'
        # >>> chat.send("And again").thread_id == chat.thread_id
        # True
        # """
        # unasync: sync-only end
        # unasync: async-only begin
        """A conversation. Hosted: `user=` and `workflow=` (sessions created and renewed for you) or
        `client_secret=`; self-hosted: no arguments. `thread_id=` continues an existing thread.
        `max_tool_rounds` caps the client tool calls answered in one turn (`ToolRoundsExceededError` past it).

        >>> chat = client.chat(user="user_123", workflow="wf_abc")  # doctest: +SKIP
        >>> (await chat.send("Hello!")).text  # doctest: +SKIP
        'You said: Hello!'
        """
        # unasync: async-only end
        session = self._session_state(
            user=user,
            workflow=workflow,
            client_secret=client_secret,
            chatkit_configuration=chatkit_configuration,
            expires_after=expires_after,
            rate_limits=rate_limits,
        )
        return self._new_chat(session, thread_id=thread_id, client_tools=client_tools, max_tool_rounds=max_tool_rounds)

    async def send_message(
        self, *, text: str, files: Sequence[FileInput] | None = None, client_secret: str | None = None
    ) -> Reply:
        """Send a message on this client's conversation (the Ruby gem's `send_message!`); one thread per client.

        >>> await client.create_session(user_id="user_123", workflow_id="wf_abc")  # doctest: +SKIP
        >>> reply = await client.send_message(text="Hello, how are you?")  # doctest: +SKIP
        >>> print(reply.text)  # doctest: +SKIP
        """
        with self._seed.lock:
            chat = self._seed.chat
            if chat is None or not self._seed_chat_fits(chat._session, client_secret):
                previous = chat.thread_id if chat is not None else None
                chat = self._new_chat(self._seed_session(client_secret), thread_id=previous)
                self._seed.chat = chat
        return await chat.send(text, files=files)

    def _new_chat(
        self,
        session: SessionState | None,
        *,
        thread_id: str | None,
        client_tools: Mapping[str, ToolHandler] | None = None,
        max_tool_rounds: int = DEFAULT_MAX_TOOL_ROUNDS,
    ) -> AsyncChat:
        # Imported at the first chat, so that a program that only lists threads does not load the Chat shell.
        from .chat import AsyncChat

        return AsyncChat(
            self._requester,
            session=session,
            thread_id=thread_id,
            client_tools=client_tools,
            max_tool_rounds=max_tool_rounds,
        )

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


document_parameters(AsyncChatKit, "httpx2.AsyncClient")
