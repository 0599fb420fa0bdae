"""`Chat` and `ChatStream`: one conversation with a ChatKit backend, synchronously.

The logic lives in `_chat_core` and `_protocol`; this shell only sends requests, reads bodies and
calls tool handlers. `_async_chat` is its twin, method for method.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from contextlib import ExitStack
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ._chat_core import (
    ChatState,
    SessionState,
    ToolHandler,
    TurnDriver,
    check_attachment_ids,
    check_hosted_uploads,
    last_user_message_id,
    parse_attachment,
    parse_thread,
    prepare_files,
    same_origin,
    tool_output,
    upload_target,
)
from ._exceptions import APIConnectionError, AuthenticationError, InvalidInputError
from ._files import FileInput, PreparedFile, prepare_file
from ._pagination import SyncPage, parse_page
from ._protocol import (
    action_params,
    check_json_serialisable,
    envelope,
    feedback_params,
    list_params,
    require_thread,
    user_input,
)
from ._reply import Reply
from ._transport import ByteStream, RequestSpec
from .types import (
    AssistantMessageContentPartTextDelta,
    Attachment,
    ChatSession,
    Thread,
    ThreadItem,
    ThreadItemUpdatedEvent,
    ThreadStreamEvent,
    UploadedFile,
    parse_item,
)

if TYPE_CHECKING:
    from ._client import ChatKit

__all__ = ["Chat", "ChatStream"]


class ChatStream:
    """A streamed turn: iterate it for typed events as they arrive; the HTTP response closes on exit.

    >>> with chat.stream("Tell me a story") as stream:  # doctest: +SKIP
    ...     for piece in stream.text_deltas():
    ...         print(piece, end="", flush=True)
    ...     reply = stream.get_final_reply()
    """

    def __init__(self, chat: Chat, first_request: Callable[[], dict[str, Any]], *, keep_events: bool = False) -> None:
        self._chat = chat
        self._driver = TurnDriver(chat._state, keep_events=keep_events)
        self._events = self._run(first_request)

    def _run(self, first_request: Callable[[], dict[str, Any]]) -> Generator[ThreadStreamEvent]:
        request: dict[str, Any] | None = first_request()
        driver = self._driver
        while request is not None:
            with ExitStack() as stack:
                body = self._chat._open_stream(stack, request)
                driver.begin_round(body.content_type)
                try:
                    for chunk in body:
                        yield from driver.feed(chunk)
                except APIConnectionError as err:
                    raise driver.interrupted(err) from err
                yield from driver.end_round()
            found = driver.next_tool_round()
            if found is None:
                return
            call, handler = found
            try:
                output = tool_output(call, handler(dict(call.arguments)))
            except Exception as err:
                output = tool_output(call, error=err)
            request = driver.tool_output_request(call, output)

    def __iter__(self) -> Iterator[ThreadStreamEvent]:
        return self

    def __next__(self) -> ThreadStreamEvent:
        try:
            return next(self._events)
        except StopIteration:
            if self._driver.failure is not None:
                raise self._driver.failure from None
            raise

    def text_deltas(self) -> Iterator[str]:
        """The assistant's text, piece by piece, as it arrives."""
        for event in self:
            if isinstance(event, ThreadItemUpdatedEvent) and isinstance(
                event.update, AssistantMessageContentPartTextDelta
            ):
                yield event.update.delta

    def get_final_reply(self) -> Reply:
        """Read the rest of the turn and return the finished Reply (raises `StreamError` on an error event)."""
        for _ in self:
            pass
        return self._driver.reply()

    @property
    def reply(self) -> Reply:
        """Everything received so far, as a Reply."""
        return self._driver.reply()

    def close(self) -> None:
        """Stop reading and close the HTTP response; what arrived stays in `reply`."""
        self._events.close()

    def __enter__(self) -> ChatStream:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class Chat:
    """One conversation with a ChatKit backend: hosted (a session it renews itself) or self-hosted.

    Create it with `client.chat(...)`. A Chat may be shared by threads; it keeps the thread id.

    >>> chat = client.chat(user="user_123", workflow="wf_abc")  # doctest: +SKIP
    >>> print(chat.send("Hello!").text)  # doctest: +SKIP
    >>> print(chat.send("And in French?").text)  # same thread  # doctest: +SKIP
    """

    def __init__(
        self,
        client: ChatKit,
        *,
        session: SessionState | None = None,
        thread_id: str | None = None,
        client_tools: Mapping[str, ToolHandler] | None = None,
    ) -> None:
        self._client = client
        self._session = session
        self._state = ChatState(thread_id=thread_id)
        for name, handler in (client_tools or {}).items():
            self._state.register_tool(name, handler)

    # -- state -------------------------------------------------------------------------------
    @property
    def thread_id(self) -> str | None:
        """The thread this Chat continues; set by the first message."""
        return self._state.thread_id

    @property
    def session(self) -> ChatSession | None:
        """The hosted session in use (None for self-hosted servers or a bare client secret)."""
        return self._session.session if self._session is not None else None

    def new_thread(self) -> None:
        """Start a new thread with the next message."""
        self._state.thread_id = None
        self._state.last_user_item_id = None

    def client_tool(self, name: str) -> Callable[[ToolHandler], ToolHandler]:
        """Register a client tool handler by decorator.

        >>> @chat.client_tool("get_weather")  # doctest: +SKIP
        ... def get_weather(arguments):
        ...     return {"forecast": "sunny", "city": arguments["city"]}
        """

        def register(handler: ToolHandler) -> ToolHandler:
            self._state.register_tool(name, handler)
            return handler

        return register

    # -- sending -------------------------------------------------------------------------------
    def send(
        self,
        text: str | None = None,
        *,
        files: Sequence[FileInput] | None = None,
        attachments: Sequence[str] | None = None,
        quoted_text: str | None = None,
        model: str | None = None,
        tool_choice: str | Mapping[str, str] | None = None,
        keep_events: bool = False,
    ) -> Reply:
        """Send a message and return the finished Reply; `files` are uploaded first.

        Raises `StreamError` if the server reports an error in the stream, `StreamInterruptedError`
        if the connection breaks; both carry the partial `reply`.
        """
        stream = self.stream(
            text,
            files=files,
            attachments=attachments,
            quoted_text=quoted_text,
            model=model,
            tool_choice=tool_choice,
            keep_events=keep_events,
        )
        with stream:
            return stream.get_final_reply()

    def stream(
        self,
        text: str | None = None,
        *,
        files: Sequence[FileInput] | None = None,
        attachments: Sequence[str] | None = None,
        quoted_text: str | None = None,
        model: str | None = None,
        tool_choice: str | Mapping[str, str] | None = None,
        keep_events: bool = False,
    ) -> ChatStream:
        """Send a message and stream the answer; input is checked here, before anything is sent."""
        prepared = prepare_files(files)
        ids = check_attachment_ids(attachments)
        template = user_input(
            text,
            attachments=ids,
            has_files=bool(prepared),
            quoted_text=quoted_text,
            model=model,
            tool_choice=tool_choice,
        )

        def first_request() -> dict[str, Any]:
            uploaded = self._upload_all(prepared)
            message = {**template, "attachments": ids + uploaded}
            thread_id = self._state.thread_id
            if thread_id:
                return envelope("threads.add_user_message", {"thread_id": thread_id, "input": message})
            return envelope("threads.create", {"input": message})

        return ChatStream(self, first_request, keep_events=keep_events)

    def retry(self, item_id: str | None = None) -> Reply:
        """Answer again from a user message (default: the last one in this thread)."""
        with self.stream_retry(item_id) as stream:
            return stream.get_final_reply()

    def stream_retry(self, item_id: str | None = None) -> ChatStream:
        """Like `retry`, streamed."""
        thread_id = require_thread(self._state.thread_id, "retry")

        def first_request() -> dict[str, Any]:
            target = item_id or self._state.last_user_item_id or self._find_last_user_message(thread_id)
            if not target:
                raise InvalidInputError("item_id", "there is no user message in this thread to retry from")
            return envelope("threads.retry_after_item", {"thread_id": thread_id, "item_id": target})

        return ChatStream(self, first_request)

    def custom_action(self, action: Mapping[str, Any], *, item_id: str | None = None) -> Reply:
        """Press a widget action (`{"type": ..., "payload": ...}`) on `item_id` and return the answer."""
        params = action_params(require_thread(self._state.thread_id, "custom_action"), action, item_id)
        with ChatStream(self, lambda: envelope("threads.custom_action", params)) as stream:
            return stream.get_final_reply()

    def add_tool_output(self, result: object) -> Reply:
        """Answer the pending client tool call with `result` (JSON-serialisable) and return the answer."""
        check_json_serialisable(result, "result")
        params = {"thread_id": require_thread(self._state.thread_id, "add_tool_output"), "result": result}
        with ChatStream(self, lambda: envelope("threads.add_client_tool_output", params)) as stream:
            return stream.get_final_reply()

    # -- threads over the protocol ---------------------------------------------------------------
    def threads(self, *, limit: int | None = None, order: str = "desc") -> SyncPage[Thread]:
        """This user's threads; iterate the page to walk all of them."""
        return self._threads_page(list_params(limit=limit, order=order, after=None))

    def _threads_page(self, params: dict[str, Any]) -> SyncPage[Thread]:
        data, has_more, cursor = parse_page(self._call(envelope("threads.list", params)), parse_thread, what="threads")
        return SyncPage(
            data,
            has_more=has_more,
            next_cursor=cursor,
            fetch=lambda after: self._threads_page({**params, "after": after}),
        )

    def get_thread(self, thread_id: str | None = None) -> Thread:
        """A thread's metadata (title, status), with its first items when the server includes them."""
        thread = require_thread(thread_id or self._state.thread_id, "get_thread")
        return parse_thread(self._call(envelope("threads.get_by_id", {"thread_id": thread})))

    def items(
        self, thread_id: str | None = None, *, limit: int | None = None, order: str = "asc"
    ) -> SyncPage[ThreadItem]:
        """A thread's items, oldest first by default; iterate the page to walk all of them."""
        thread = require_thread(thread_id or self._state.thread_id, "items")
        return self._items_page(list_params(limit=limit, order=order, after=None, thread_id=thread))

    def _items_page(self, params: dict[str, Any]) -> SyncPage[ThreadItem]:
        data, has_more, cursor = parse_page(self._call(envelope("items.list", params)), parse_item, what="thread items")
        return SyncPage(
            data,
            has_more=has_more,
            next_cursor=cursor,
            fetch=lambda after: self._items_page({**params, "after": after}),
        )

    def rename(self, title: str, *, thread_id: str | None = None) -> Thread:
        """Set a thread's title."""
        if not isinstance(title, str) or not title.strip():
            raise InvalidInputError("title", "must be a non-empty string")
        thread = require_thread(thread_id or self._state.thread_id, "rename")
        return parse_thread(self._call(envelope("threads.update", {"thread_id": thread, "title": title})))

    def delete_thread(self, thread_id: str | None = None) -> None:
        """Delete a thread (default: this Chat's, which then starts a new one with the next message)."""
        thread = require_thread(thread_id or self._state.thread_id, "delete_thread")
        self._call(envelope("threads.delete", {"thread_id": thread}))
        if thread == self._state.thread_id:
            self.new_thread()

    def feedback(self, item_ids: Sequence[str] | str, kind: str, *, thread_id: str | None = None) -> None:
        """Rate items `"positive"` or `"negative"`."""
        thread = require_thread(thread_id or self._state.thread_id, "feedback")
        self._call(envelope("items.feedback", feedback_params(thread, item_ids, kind)))

    def upload(self, file: FileInput) -> UploadedFile | Attachment:
        """Upload a file now and return it; pass its `id` in `attachments=` later."""
        prepared = prepare_file(file)
        if self._session is not None:
            check_hosted_uploads(self._ensure_session(), [prepared])
            return self._upload_hosted(prepared)
        return self._upload_self_hosted(prepared)

    # -- plumbing ------------------------------------------------------------------------------
    def _find_last_user_message(self, thread_id: str) -> str | None:
        page = self._items_page(list_params(limit=20, order="desc", after=None, thread_id=thread_id))
        return last_user_message_id(list(reversed(page.data)))

    def _ensure_session(self) -> ChatSession | None:
        """Create or renew the hosted session when needed; exactly one caller does it at a time."""
        state = self._session
        assert state is not None
        if state.needs_session():
            with state.lock:
                if state.needs_session():
                    assert state.params is not None
                    state.install(self._client.sessions.create(**state.params))
        return state.session

    def _renew_after_401(self, used_secret: str) -> bool:
        state = self._session
        if state is None or not state.can_renew:
            return False
        with state.lock:
            # Another thread may have renewed already; the secret that failed tells us.
            if state.is_current(used_secret):
                assert state.params is not None
                state.install(self._client.sessions.create(**state.params))
        return True

    def _spec(self, request: dict[str, Any], *, streaming: bool) -> tuple[RequestSpec, str | None]:
        accept = "text/event-stream" if streaming else "application/json"
        if self._session is None:
            assert self._client.server_url is not None
            headers = {**self._client._server_headers(), "Accept": accept}
            return RequestSpec("POST", self._client.server_url, headers=headers, json=request), None
        self._ensure_session()
        secret = self._session.secret()
        return self._client._secret_spec("POST", "/chatkit/conversation", secret, json=request, accept=accept), secret

    def _call(self, request: dict[str, Any]) -> Any:
        renewed = False
        while True:
            spec, secret = self._spec(request, streaming=False)
            try:
                return self._client._transport.request(spec).json()
            except AuthenticationError:
                if renewed or secret is None or not self._renew_after_401(secret):
                    raise
                renewed = True

    def _open_stream(self, stack: ExitStack, request: dict[str, Any]) -> ByteStream:
        renewed = False
        while True:
            spec, secret = self._spec(request, streaming=True)
            try:
                return stack.enter_context(self._client._transport.stream(spec))
            except AuthenticationError:
                if renewed or secret is None or not self._renew_after_401(secret):
                    raise
                renewed = True

    def _upload_all(self, prepared: list[PreparedFile]) -> list[str]:
        if not prepared:
            return []
        if self._session is not None:
            check_hosted_uploads(self._ensure_session(), prepared)
            return [self._upload_hosted(item).id for item in prepared]
        return [self._upload_self_hosted(item).id for item in prepared]

    def _upload_hosted(self, prepared: PreparedFile) -> UploadedFile:
        assert self._session is not None
        renewed = False
        while True:
            self._ensure_session()
            secret = self._session.secret()
            try:
                return self._client.files.upload(
                    (prepared.filename, _content(prepared), prepared.mime_type), client_secret=secret
                )
            except AuthenticationError:
                if renewed or not self._renew_after_401(secret):
                    raise
                renewed = True

    def _upload_self_hosted(self, prepared: PreparedFile) -> Attachment:
        server_url = self._client.server_url
        assert server_url is not None
        headers = self._client._server_headers()
        if self._client.upload_url is not None:
            url, method, extra = self._client.upload_url, "POST", dict[str, str]()
        else:
            if prepared.size is None:
                raise InvalidInputError(
                    "files", f"{prepared.filename}: its size is unknown; pass a path, bytes or a seekable file"
                )
            created = parse_attachment(
                self._call(
                    envelope(
                        "attachments.create",
                        {"name": prepared.filename, "size": prepared.size, "mime_type": prepared.mime_type},
                    )
                )
            )
            target = upload_target(created)
            if target is None:
                return created
            url, method, extra = target
        # The app's own credentials go only to the app's own origin, never to a storage URL elsewhere.
        sent = {**(headers if same_origin(url, server_url) else {}), **extra, "Accept": "application/json"}
        with prepared.open() as handle:
            spec = RequestSpec(
                method, url, headers=sent, files={"file": (prepared.filename, handle, prepared.mime_type)}
            )
            response = self._client._transport.request(spec)
        if self._client.upload_url is not None:
            return parse_attachment(response.json())
        return created


def _content(prepared: PreparedFile) -> Any:
    if prepared.path is not None:
        return prepared.path
    if prepared.data is not None:
        return prepared.data
    return prepared.fileobj
