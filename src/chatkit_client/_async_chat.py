"""`AsyncChat` and `AsyncChatStream`: the async twin of `_chat`, method for method.

Tool handlers may be plain functions or coroutines. The logic lives in `_chat_core` and `_protocol`.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from ._async.transport import AsyncByteStream
from ._core.audio import AudioInput, read_audio
from ._core.chat import (
    DEFAULT_MAX_TOOL_ROUNDS,
    ChatState,
    ToolHandler,
    TurnDriver,
    check_attachment_ids,
    check_hosted_uploads,
    check_max_tool_rounds,
    newest_user_message_id,
    parse_attachment,
    parse_thread,
    parse_updated_item,
    prepare_files,
    tool_output,
    upload_spec,
    upload_target,
)
from ._core.export import EXPORT_PAGE_SIZE, export_ids, thread_record
from ._core.files import FileInput, PreparedFile, ProgressCallback, prepare_file
from ._core.protocol import (
    action_params,
    attachment_create_request,
    delete_attachment_request,
    envelope,
    feedback_params,
    list_params,
    message_request,
    rename_request,
    require_thread,
    retry_request,
    structured_input_request,
    tool_output_request,
    transcribe_request,
    transcription_text,
    user_input,
)
from ._core.reply import Reply
from ._core.session import SessionState
from ._exceptions import APIConnectionError, AuthenticationError, BodyFailedAfterStatusError
from ._pagination import AsyncPage, AsyncPaginator, parse_page
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
    from ._client import AsyncChatKit

__all__ = ["AsyncChat", "AsyncChatStream"]

T = TypeVar("T")


class AsyncChatStream:
    """A streamed turn: `async for` over it yields typed events as they arrive; the response closes on exit.

    >>> async with chat.stream("Tell me a story") as stream:  # doctest: +SKIP
    ...     async for piece in stream.text_deltas():
    ...         print(piece, end="", flush=True)
    ...     reply = await stream.get_final_reply()
    """

    def __init__(
        self, chat: AsyncChat, first_request: Callable[[], Awaitable[dict[str, Any]]], *, keep_events: bool = False
    ) -> None:
        self._chat = chat
        self._driver = TurnDriver(
            chat._state,
            keep_events=keep_events,
            max_event_size=chat._client.max_event_size,
            max_tool_rounds=chat._max_tool_rounds,
        )
        # A function, not a method: a generator holding its stream makes a cycle, and gc then finalises the
        # nested async generators (ours, the transport's, httpx2's) all at once, in any order, which
        # reports "aclose(): asynchronous generator is already running" after an early `break`.
        self._events = _run_turn(chat, self._driver, first_request)
        # Each chunk's payloads, parsed one at a time as events are asked for.
        self._batch: list[str] = []
        self._index = 0
        self._done = False

    def __aiter__(self) -> AsyncIterator[ThreadStreamEvent]:
        return self

    async def __anext__(self) -> ThreadStreamEvent:
        while self._index >= len(self._batch):
            await self._pull()
        data = self._batch[self._index]
        self._index += 1
        try:
            return self._driver.event(data)
        except BaseException:
            await self._stop()
            raise

    async def _pull(self) -> None:
        """Read the next chunk's payloads (raises StopAsyncIteration, or the turn's failure, at the end)."""
        try:
            self._batch = await anext(self._events)
        except StopAsyncIteration:
            self._done = True
            self._batch = []
            if self._driver.failure is not None:
                raise self._driver.failure from None
            raise
        self._index = 0

    async def _stop(self) -> None:
        # A payload failed: the turn is over, as when the generator itself raises.
        self._batch = []
        await self._events.aclose()

    async def _next_text(self) -> str:
        """The next text delta of the turn, applying every other event on the way (StopAsyncIteration at the end)."""
        driver = self._driver
        while True:
            while self._index >= len(self._batch):
                await self._pull()
            data = self._batch[self._index]
            self._index += 1
            try:
                found = driver.text_or_event(data)
            except BaseException:
                await self._stop()
                raise
            if type(found) is str:
                return found
            if isinstance(found, ThreadItemUpdatedEvent) and isinstance(
                found.update, AssistantMessageContentPartTextDelta
            ):
                return found.update.delta

    @property
    def allow_cancel(self) -> bool | None:
        """Whether the server lets this answer be stopped (its `stream_options` event); None until it says.

        To stop an answer, `await stream.close()` (or leave its `async with` block): the connection
        closes and an openai-chatkit server cancels the answer, keeping what it had streamed.
        """
        return self._driver.allow_cancel

    def text_deltas(self) -> AsyncIterator[str]:
        """The assistant's text, piece by piece, as it arrives (`async for piece in stream.text_deltas()`)."""
        return _TextDeltas(self)

    async def get_final_reply(self) -> Reply:
        """Read the rest of the turn and return the finished Reply (raises `StreamError` on an error event)."""
        # Nobody sees these events: they are applied a chunk at a time, text deltas without models.
        driver = self._driver
        while True:
            rest = self._batch[self._index :] if self._index else self._batch
            self._index = len(self._batch)
            if rest:
                try:
                    driver.apply_quietly(rest)
                except BaseException:
                    await self._stop()
                    raise
            try:
                await self._pull()
            except StopAsyncIteration:
                return driver.reply()

    @property
    def reply(self) -> Reply:
        """Everything received so far, as a Reply."""
        return self._driver.reply()

    async def close(self) -> None:
        """Stop reading and close the HTTP response, which stops the answer on the server (see
        `allow_cancel`); what arrived stays in `reply`."""
        stopped = not self._done  # a turn that has not ended (stopped, interrupted, failed) midway
        await self._events.aclose()
        if stopped:
            # A stopped answer still started (or continued) a thread: the next message continues it.
            self._chat._state.observe(self._driver.reply())

    async def __aenter__(self) -> AsyncChatStream:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


class _TextDeltas:
    """`AsyncChatStream.text_deltas()`: an iterator object rather than an async generator, so that leaving
    the loop early leaves no generator of ours for the event loop to finalise."""

    def __init__(self, stream: AsyncChatStream) -> None:
        self._stream = stream

    def __aiter__(self) -> _TextDeltas:
        return self

    async def __anext__(self) -> str:
        return await self._stream._next_text()


async def _run_turn(
    chat: AsyncChat, driver: TurnDriver, first_request: Callable[[], Awaitable[dict[str, Any]]]
) -> AsyncGenerator[list[str]]:
    """The turn's rounds: yields each chunk's payloads, which the stream applies before asking for more."""
    request: dict[str, Any] | None = await first_request()
    while request is not None:
        async with AsyncExitStack() as stack:
            try:
                body = await chat._open_stream(stack, request)
            except BodyFailedAfterStatusError as err:
                raise driver.failed_before_body(err) from err
            driver.begin_round(body.content_type, body.headers)
            try:
                async for chunk in body:
                    yield driver.payloads(chunk)
            except APIConnectionError as err:
                raise driver.interrupted(err) from err
            yield driver.end_payloads()
        found = driver.next_tool_round()
        if found is None:
            return
        call, handler = found
        try:
            result = handler(dict(call.arguments))
            if inspect.isawaitable(result):
                result = await result
            output = tool_output(call, result)
        except Exception as err:
            output = tool_output(call, error=err)
        request = driver.tool_output_request(call, output)


class AsyncChat:
    """Async twin of `Chat`: one conversation with a ChatKit backend, shared safely by tasks.

    Methods that do I/O are coroutines; `stream()` returns an `AsyncChatStream` (`async with` /
    `async for`); `threads()` and `items()` return an `AsyncPaginator` (`async for` over every item, or
    `await` for the first page).

    >>> chat = client.chat(user="user_123", workflow="wf_abc")  # doctest: +SKIP
    >>> print((await chat.send("Hello!")).text)  # doctest: +SKIP
    You said: Hello!
    >>> async for thread in chat.threads():  # doctest: +SKIP
    ...     print(thread.id, thread.title)
    """

    def __init__(
        self,
        client: AsyncChatKit,
        *,
        session: SessionState | None = None,
        thread_id: str | None = None,
        client_tools: Mapping[str, ToolHandler] | None = None,
        max_tool_rounds: int = DEFAULT_MAX_TOOL_ROUNDS,
    ) -> None:
        self._client = client
        self._session = session
        self._state = ChatState(thread_id=thread_id)
        self._max_tool_rounds = check_max_tool_rounds(max_tool_rounds)
        # Held while creating a session, so that concurrent tasks create exactly one.
        self._session_lock = asyncio.Lock()
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
        self._state.reset()

    def client_tool(self, name: str) -> Callable[[ToolHandler], ToolHandler]:
        """Register a client tool handler (a function or a coroutine function) by decorator.

        A plain function runs on the event loop, so it should be quick; make slow handlers coroutines.
        """

        def register(handler: ToolHandler) -> ToolHandler:
            self._state.register_tool(name, handler)
            return handler

        return register

    # -- sending -------------------------------------------------------------------------------
    async def send(
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
        """Send a message, wait for the whole answer and return it as a `Reply`.

        The arguments, the accepted forms of `files` (paths, named binary files, `(filename, content)` or
        `(filename, content, mime_type)` tuples) and the errors raised are those of `Chat.send`.

        >>> reply = await chat.send("Hello!", files=["report.pdf"])  # doctest: +SKIP
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
        async with stream:
            return await stream.get_final_reply()

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
    ) -> AsyncChatStream:
        """Send a message and stream the answer: returns an `AsyncChatStream` (`async with` / `async for`).

        Same arguments as `send`, checked here (`InvalidInputError`); the request goes out when
        iteration starts, and the turn's errors are raised by the iteration (see `Chat.send`).

        >>> async with chat.stream("Hi there") as stream:  # doctest: +SKIP
        ...     async for piece in stream.text_deltas():
        ...         print(piece, end="", flush=True)
        """
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

        async def first_request() -> dict[str, Any]:
            uploaded = await self._upload_all(prepared)
            return message_request({**template, "attachments": ids + uploaded}, self._state.thread_id)

        return AsyncChatStream(self, first_request, keep_events=keep_events)

    async def retry(self, item_id: str | None = None) -> Reply:
        """Answer again from a user message (default: the last one in this thread)."""
        async with self.stream_retry(item_id) as stream:
            return await stream.get_final_reply()

    def stream_retry(self, item_id: str | None = None) -> AsyncChatStream:
        """Like `retry`, streamed."""
        thread_id = require_thread(self._state.thread_id, "retry")

        async def first_request() -> dict[str, Any]:
            target = item_id or self._state.last_user_item_id or await self._find_last_user_message(thread_id)
            return retry_request(thread_id, target)

        return AsyncChatStream(self, first_request)

    async def custom_action(self, action: Mapping[str, Any], *, item_id: str | None = None) -> Reply:
        """Press a widget action (`{"type": ..., "payload": ...}`) on `item_id` and return the answer."""
        params = action_params(require_thread(self._state.thread_id, "custom_action"), action, item_id)
        return await self._turn(envelope("threads.custom_action", params))

    async def add_tool_output(self, result: object) -> Reply:
        """Answer the pending client tool call with `result` (JSON-serialisable) and return the answer."""
        async with self.stream_tool_output(result) as stream:
            return await stream.get_final_reply()

    def stream_tool_output(self, result: object) -> AsyncChatStream:
        """Like `add_tool_output`, streamed.

        Raises `InvalidInputError` before sending when this Chat saw the thread's last turn end without a
        pending client tool call.
        """
        request = tool_output_request(require_thread(self._state.thread_id, "add_tool_output"), result)
        self._state.check_tool_output()

        async def first_request() -> dict[str, Any]:
            return request

        return AsyncChatStream(self, first_request)

    async def _turn(self, request: dict[str, Any]) -> Reply:
        async def first_request() -> dict[str, Any]:
            return request

        async with AsyncChatStream(self, first_request) as stream:
            return await stream.get_final_reply()

    async def add_structured_input(
        self, item_id: str, answers: Mapping[str, str | Sequence[str] | None], *, skipped: bool = False
    ) -> Reply:
        """Answer a pending structured input item (`answers` keyed by question id) and return the answer.

        `skipped=True` declines it. The item is a `StructuredInputItem` (`reply.pending_structured_input`);
        each question's `id` keys its answer.
        Raises `InvalidInputError` before sending when this Chat saw `item_id` and it is not a pending
        structured input.
        """
        async with self.stream_structured_input(item_id, answers, skipped=skipped) as stream:
            return await stream.get_final_reply()

    def stream_structured_input(
        self, item_id: str, answers: Mapping[str, str | Sequence[str] | None], *, skipped: bool = False
    ) -> AsyncChatStream:
        """Like `add_structured_input`, streamed."""
        thread_id = require_thread(self._state.thread_id, "add_structured_input")
        request = structured_input_request(thread_id, item_id, answers, skipped=skipped)
        self._state.check_structured_input(item_id)

        async def first_request() -> dict[str, Any]:
            return request

        return AsyncChatStream(self, first_request)

    async def sync_custom_action(self, action: Mapping[str, Any], *, item_id: str | None = None) -> ThreadItem | None:
        """Press a widget action the server answers at once, without a stream: returns the updated item."""
        params = action_params(require_thread(self._state.thread_id, "sync_custom_action"), action, item_id)
        return parse_updated_item(await self._call(envelope("threads.sync_custom_action", params)))

    # -- threads over the protocol ---------------------------------------------------------------
    def threads(self, *, limit: int | None = None, order: str = "desc") -> AsyncPaginator[Thread]:
        """This user's threads, newest first by default: `await` it for the first page, or
        `async for` over it for every thread across pages.

        `limit` is the page size (each request asks for that many); iteration still walks every page.

        >>> async for thread in chat.threads():  # doctest: +SKIP
        ...     print(thread.id, thread.title)
        """
        params = list_params(limit=limit, order=order, after=None)
        return AsyncPaginator(lambda: self._threads_page(params))

    async def _threads_page(self, params: dict[str, Any]) -> AsyncPage[Thread]:
        body = await self._call(envelope("threads.list", params))
        data, has_more, cursor = parse_page(body, parse_thread, what="threads")
        return AsyncPage(
            data,
            has_more=has_more,
            next_cursor=cursor,
            fetch=lambda after: self._threads_page({**params, "after": after}),
            what="threads",
            cursor=params.get("after"),
        )

    async def get_thread(self, thread_id: str | None = None) -> Thread:
        """A thread's metadata (title, status), with its first items when the server includes them."""
        thread = require_thread(thread_id or self._state.thread_id, "get_thread")
        found = parse_thread(await self._call(envelope("threads.get_by_id", {"thread_id": thread})))
        self._state.remember_thread(found)
        return found

    def items(
        self, thread_id: str | None = None, *, limit: int | None = None, order: str = "asc"
    ) -> AsyncPaginator[ThreadItem]:
        """A thread's items, oldest first by default: `await` it for the first page, or `async for`
        over it for every item across pages. `limit` is the page size, not a cap on the walk."""
        thread = require_thread(thread_id or self._state.thread_id, "items")
        params = list_params(limit=limit, order=order, after=None, thread_id=thread)
        return AsyncPaginator(lambda: self._items_page(params))

    async def _items_page(self, params: dict[str, Any]) -> AsyncPage[ThreadItem]:
        body = await self._call(envelope("items.list", params))
        data, has_more, cursor = parse_page(body, parse_item, what="thread items")
        return AsyncPage(
            data,
            has_more=has_more,
            next_cursor=cursor,
            fetch=lambda after: self._items_page({**params, "after": after}),
            what="thread items",
            cursor=params.get("after"),
        )

    async def rename(self, title: str, *, thread_id: str | None = None) -> Thread:
        """Set a thread's title."""
        thread = require_thread(thread_id or self._state.thread_id, "rename")
        renamed = parse_thread(await self._call(rename_request(thread, title)))
        self._state.remember_thread(renamed)
        return renamed

    async def delete_thread(self, thread_id: str | None = None) -> None:
        """Delete a thread (default: this Chat's, which then starts a new one with the next message)."""
        thread = require_thread(thread_id or self._state.thread_id, "delete_thread")
        await self._call(envelope("threads.delete", {"thread_id": thread}))
        if thread == self._state.thread_id:
            self.new_thread()

    async def feedback(self, item_ids: Sequence[str] | str, kind: str, *, thread_id: str | None = None) -> None:
        """Rate items `"positive"` or `"negative"`."""
        thread = require_thread(thread_id or self._state.thread_id, "feedback")
        await self._call(envelope("items.feedback", feedback_params(thread, item_ids, kind)))

    async def upload(
        self, file: FileInput, *, on_progress: ProgressCallback | None = None
    ) -> UploadedFile | Attachment:
        """Upload a file now and return it; pass its `id` in `attachments=` later.

        `on_progress(sent_bytes, total_bytes)` is called as the bytes are sent.
        """
        prepared = prepare_file(file)
        if self._session is not None:
            check_hosted_uploads(await self._ensure_session(), [prepared])
            return await self._upload_hosted(prepared, on_progress)
        return await self._upload_self_hosted(prepared, on_progress)

    async def transcribe(self, audio: AudioInput, *, mime_type: str | None = None) -> str:
        """Turn speech into text with the server's `input.transcribe`; returns the text.

        `audio` is bytes (then `mime_type` is required), a path or a binary file; at most 25 MB.

        >>> await chat.transcribe(b"...", mime_type="audio/webm")  # doctest: +SKIP
        'What is the weather in Paris?'
        """
        request = transcribe_request(*read_audio(audio, mime_type))
        return transcription_text(await self._call(request))

    async def delete_attachment(self, attachment_id: str) -> None:
        """Delete an uploaded attachment (`attachments.delete`)."""
        await self._call(delete_attachment_request(attachment_id))

    def export_threads(self, thread_ids: Sequence[str] | None = None) -> AsyncIterator[dict[str, Any]]:
        """Every thread this Chat can list (or those of `thread_ids`), each as one JSON-ready dict with
        all of its items, oldest first; `async for` over it.

        >>> async for record in chat.export_threads():  # doctest: +SKIP
        ...     print(record["id"], len(record["items"]))
        """
        return self._export(export_ids(thread_ids))

    async def _export(self, ids: list[str] | None) -> AsyncIterator[dict[str, Any]]:
        if ids is not None:
            for thread_id in ids:
                yield await self._export_one(await self.get_thread(thread_id))
        else:
            async for thread in self.threads(limit=EXPORT_PAGE_SIZE):
                yield await self._export_one(thread)

    async def _export_one(self, thread: Thread) -> dict[str, Any]:
        items = [item async for item in self.items(thread.id, limit=EXPORT_PAGE_SIZE, order="asc")]
        return thread_record(thread, items)

    # -- plumbing ------------------------------------------------------------------------------
    async def _find_last_user_message(self, thread_id: str) -> str | None:
        # Newest first, page by page: an answer may have added more items than one page since the message.
        first = await self._items_page(list_params(limit=20, order="desc", after=None, thread_id=thread_id))
        async for page in first.iter_pages():
            found = newest_user_message_id(page.data)
            if found is not None:
                return found
        return None

    async def _ensure_session(self) -> ChatSession | None:
        """Create or renew the hosted session when needed; exactly one task does it at a time."""
        state = self._session
        assert state is not None
        if state.needs_session():
            ticket = state.ticket()
            async with self._session_lock:
                if state.needs_session():
                    await self._create_session(ticket)
        return state.session

    async def _renew_after_401(self, used_secret: str) -> bool:
        state = self._session
        if state is None or not state.can_renew:
            return False
        ticket = state.ticket()
        async with self._session_lock:
            # Another task may have renewed already; the secret that failed tells us.
            if state.is_current(used_secret):
                await self._create_session(ticket)
        return True

    async def _create_session(self, ticket: int) -> None:
        """With the session lock held: share the outcome of an attempt that ran while we waited, else try."""
        state = self._session
        assert state is not None and state.params is not None
        failure = state.shared_failure(ticket)
        if failure is not None:
            raise failure
        try:
            session, date = await self._client.sessions._create_dated(**state.params)
        except Exception as err:
            state.attempt_failed(err)
            raise
        state.install(session, date_header=date)

    async def _authenticated(self, send: Callable[[str | None], Awaitable[T]]) -> T:
        """Run `send` with the current client secret (None when self-hosted); after a 401 on a session
        this Chat can renew, renew once and run it again."""
        for last_try in (False, True):
            secret = None
            if self._session is not None:
                await self._ensure_session()
                secret = self._session.secret()
            try:
                return await send(secret)
            except AuthenticationError:
                if last_try or secret is None or not await self._renew_after_401(secret):
                    raise
        raise AssertionError("unreachable")

    async def _call(self, request: dict[str, Any]) -> Any:
        client = self._client

        async def send(secret: str | None) -> Any:
            return (await client._transport.request(client._protocol_spec(request, secret))).json()

        return await self._authenticated(send)

    async def _open_stream(self, stack: AsyncExitStack, request: dict[str, Any]) -> AsyncByteStream:
        client = self._client

        async def send(secret: str | None) -> AsyncByteStream:
            return await stack.enter_async_context(client._transport.stream(client._protocol_spec(request, secret)))

        return await self._authenticated(send)

    async def _upload_all(self, prepared: list[PreparedFile]) -> list[str]:
        if not prepared:
            return []
        if self._session is not None:
            check_hosted_uploads(await self._ensure_session(), prepared)
            return [(await self._upload_hosted(item)).id for item in prepared]
        return [(await self._upload_self_hosted(item)).id for item in prepared]

    async def _upload_hosted(self, prepared: PreparedFile, on_progress: ProgressCallback | None = None) -> UploadedFile:
        files = self._client.files

        async def upload(secret: str | None) -> UploadedFile:
            assert secret is not None  # hosted Chats always have one
            return await files._upload_prepared(prepared, secret, on_progress)

        return await self._authenticated(upload)

    async def _upload_self_hosted(
        self, prepared: PreparedFile, on_progress: ProgressCallback | None = None
    ) -> Attachment:
        client = self._client
        assert client.server_url is not None
        created: Attachment | None = None
        target: tuple[str, str, Mapping[str, str]] | None = None
        if client.upload_url is not None:
            target = (client.upload_url, "POST", {})
        else:
            created = parse_attachment(
                await self._call(attachment_create_request(prepared.filename, prepared.size, prepared.mime_type))
            )
            target = upload_target(created)
            if target is None:
                return created
        headers = client._server_headers()
        with prepared.open(on_progress) as handle:
            spec = upload_spec(prepared, handle, target, server_url=client.server_url, server_headers=headers)
            response = await client._transport.request(spec)
        return created if created is not None else parse_attachment(response.json())
