"""`AsyncChat` and `AsyncChatStream`: one conversation with a ChatKit backend, and one streamed turn of it.

The logic lives in `_core` (`chat` for turns, `protocol` for requests, `session` for the session flow); this shell
sends requests through its requester, reads bodies and calls tool handlers. It touches nothing else of the client.

Imports: `_core`, the requester, `_pagination` and the transport's byte-stream type; never the client.
"""

from __future__ import annotations

import asyncio  # unasync: import threading
import inspect  # unasync: drop
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,  # unasync: drop
    Callable,
    Mapping,
    Sequence,
)
from contextlib import AsyncExitStack
from functools import partial
from types import TracebackType
from typing import Any, TypeVar

from .._core.audio import AudioInput, read_audio
from .._core.chat import (
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
from .._core.export import EXPORT_PAGE_SIZE, export_ids, thread_record
from .._core.files import FileInput, PreparedFile, ProgressCallback, prepare_file
from .._core.hosted_requests import read_session, read_uploaded_file, session_spec, upload_file_spec
from .._core.pages import parse_page
from .._core.protocol import (
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
from .._core.reply import Reply
from .._core.session import CreateSession, Send, SessionFlow, SessionState, authenticated, ensure_session
from .._exceptions import APIConnectionError, BodyFailedAfterStatusError
from ..types import (
    Attachment,
    ChatSession,
    Thread,
    ThreadItem,
    ThreadStreamEvent,
    UploadedFile,
    parse_item,
)
from .pagination import (
    AsyncPage,
    AsyncPaginator,  # unasync: drop
)
from .requester import AsyncRequester
from .transport import AsyncByteStream

__all__ = ["AsyncChat", "AsyncChatStream"]

T = TypeVar("T")
P = TypeVar("P")


class AsyncChatStream:
    """A streamed turn: `async for` over it yields typed events as they arrive; the HTTP response closes on exit.

    Nothing is sent until iteration starts. Iterating yields `chatkit_client.types` events;
    `text_deltas()` yields just the assistant's text; `reply` is everything so far. Errors surface from
    the iteration: `StreamError` (an error event), `StreamInterruptedError` (the connection broke), each
    with the partial `reply`. Closing the stream early stops the answer on the server (`allow_cancel`).

    >>> async with chat.stream("Tell me a story") as stream:  # async example  # doctest: +SKIP
    ...     async for piece in stream.text_deltas():
    ...         print(piece, end="", flush=True)
    ...     reply = await stream.get_final_reply()
    You said: Tell me a story
    >>> reply.text  # async example  # doctest: +SKIP
    'You said: Tell me a story'
    """

    def __init__(
        self, chat: AsyncChat, first_request: Callable[[], Awaitable[dict[str, Any]]], *, keep_events: bool = False
    ) -> None:
        self._chat = chat
        self._driver = TurnDriver(
            chat._state,
            keep_events=keep_events,
            max_event_size=chat._requester.max_event_size,
            max_tool_rounds=chat._max_tool_rounds,
        )
        # A function, not a method: a generator holding its stream would make a cycle only gc can free, and gc
        # finalises nested async generators (ours, the transport's, httpx2's) all at once, in any order, which
        # reports "generator is already running" after an early `break`.
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
                text = driver.delta_text(data)
            except BaseException:
                await self._stop()
                raise
            if text is not None:
                return text

    @property
    def allow_cancel(self) -> bool | None:
        """Whether the server lets this answer be stopped (its `stream_options` event); None until it says.

        To stop an answer, `await stream.close()` (or leave its `async with` block): the connection closes
        and an openai-chatkit server cancels the answer, keeping what it had streamed. When this is False
        the server may finish the answer anyway; it is stored in the thread, not shown.
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
        `allow_cancel`); what arrived stays in `reply`.

        >>> async with chat.stream("Write a long essay") as stream:  # doctest: +SKIP
        ...     async for piece in stream.text_deltas():
        ...         if len(stream.reply.text) > 200:
        ...             break  # leaving the block closes the stream: the server stops answering
        """
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
    """`AsyncChatStream.text_deltas()`: an iterator object rather than a generator, so that leaving the loop
    early leaves no generator of ours to finalise (in async code, the event loop would do it later)."""

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
            output = tool_output(
                call, await result if inspect.isawaitable(result) else result  # unasync: call, result
            )
        except Exception as err:
            output = tool_output(call, error=err)
        request = driver.tool_output_request(call, output)


class AsyncChat:
    """One conversation with a ChatKit backend: hosted (a session it renews itself) or self-hosted.

    Create it with `client.chat(...)`. A Chat may be shared by threads (an async Chat by tasks); it keeps the
    thread id, so each message continues the same thread until `new_thread()`. `stream()` returns a stream to
    use in `async with` / `async for`; `threads()` and `items()` walk every page with `async for`.

    >>> chat = client.chat(user="user_123", workflow="wf_abc")  # async example  # doctest: +SKIP
    >>> reply = await chat.send("Hello!")  # async example  # doctest: +SKIP
    >>> print(reply.text)  # async example  # doctest: +SKIP
    You said: Hello!
    >>> reply = await chat.send("And in French?")  # same thread  # async example  # doctest: +SKIP
    >>> print(reply.text)  # async example  # doctest: +SKIP
    You said: And in French?
    """

    def __init__(
        self,
        requester: AsyncRequester,
        *,
        session: SessionState | None,
        thread_id: str | None = None,
        client_tools: Mapping[str, ToolHandler] | None = None,
        max_tool_rounds: int = DEFAULT_MAX_TOOL_ROUNDS,
    ) -> None:
        self._requester = requester
        # None for a self-hosted server; the client's `_seed_chat_fits` reads it too.
        self._session = session
        # Held while creating a session, so that concurrent callers create exactly one.
        self._session_lock = asyncio.Lock()
        self._state = ChatState(thread_id=thread_id)
        self._max_tool_rounds = check_max_tool_rounds(max_tool_rounds)
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
        """Register a client tool handler by decorator: it gets the call's arguments and returns its result.

        The async Chat also takes coroutine functions; a plain function runs on its event loop, so it should
        be quick.

        >>> @chat.client_tool("get_weather")  # doctest: +SKIP
        ... def get_weather(arguments):
        ...     return {"forecast": "sunny", "city": arguments["city"]}
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
        """Send a message, wait for the whole answer and return it as a `Reply` (`.text`, `.items`,
        `.thread_id`, `.pending_client_tool_call`, ...). Client tool calls with a registered handler are
        answered on the way, in the same Reply.

        - `text`: the message; may be empty only when files or attachments are given.
        - `files`: uploaded first, then attached. Each one is a path (`str` or `os.PathLike`), a binary
          file object with a `name`, or a tuple `(filename, content)` / `(filename, content, mime_type)`
          where content is bytes, a binary file object or a path. The MIME type is guessed from the name.
        - `attachments`: ids of files uploaded before (`chat.upload(...)`).
        - `quoted_text`, `model`, `tool_choice` (a tool id): sent with the message as the protocol defines.
        - `keep_events=True` keeps every event in `reply.events`.

        Raises `InvalidInputError` for bad arguments (before anything is sent); `StreamError` when the
        server reports an error in the stream and `StreamInterruptedError` when the connection breaks
        mid-answer (both carry the partial `reply`); `APIStatusError` subclasses (`AuthenticationError`,
        `NotFoundError`, `RateLimitError`, ...) for an HTTP error; `APIConnectionError`/`APITimeoutError`
        when the server cannot be reached.

        >>> notes = ("notes.txt", b"Meeting at noon.")
        >>> reply = await chat.send("Summarise this", files=[notes])  # async example  # doctest: +SKIP
        >>> print(reply.text)  # async example  # doctest: +SKIP
        You said: Summarise this
        Attachments: notes.txt (text/plain, 16 bytes)
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
        """Send a message and stream the answer: returns the stream (`AsyncChatStream`) to use in `async with`.

        Takes the same arguments as `send`; they are checked here (raising `InvalidInputError`), and the
        request goes out when iteration starts. Errors of the turn are raised by the iteration (see
        `send`). Leaving the `async with` block early stops the answer.

        >>> async with chat.stream("Hi there") as stream:  # async example  # doctest: +SKIP
        ...     pieces = [piece async for piece in stream.text_deltas()]
        >>> "".join(pieces)  # async example  # doctest: +SKIP
        'You said: Hi there'
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
        return AsyncChatStream(self, _given(request))

    async def _turn(self, request: dict[str, Any]) -> Reply:
        async with AsyncChatStream(self, _given(request)) as stream:
            return await stream.get_final_reply()

    async def add_structured_input(
        self, item_id: str, answers: Mapping[str, str | Sequence[str] | None], *, skipped: bool = False
    ) -> Reply:
        """Answer a pending structured input item (`answers` keyed by question id) and return the answer.

        `skipped=True` declines it. The item is a `StructuredInputItem` (`reply.pending_structured_input`);
        each question's `id` keys its answer.

        >>> item = reply.pending_structured_input  # doctest: +SKIP
        >>> reply = await chat.add_structured_input(item.id, {item.inputs[0].id: "red"})  # doctest: +SKIP
        >>> reply.text  # doctest: +SKIP
        'You answered: red'

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
        return AsyncChatStream(self, _given(request))

    async def sync_custom_action(self, action: Mapping[str, Any], *, item_id: str | None = None) -> ThreadItem | None:
        """Press a widget action the server answers at once, without a stream: returns the updated item."""
        params = action_params(require_thread(self._state.thread_id, "sync_custom_action"), action, item_id)
        return parse_updated_item(await self._call(envelope("threads.sync_custom_action", params)))

    # -- threads over the protocol ---------------------------------------------------------------
    def threads(
        self, *, limit: int | None = None, order: str = "desc"
    ) -> AsyncPaginator[Thread]:  # unasync: ) -> SyncPage[Thread]:
        """This user's threads, newest first by default: `async for` over them walks every page, each fetched
        as the loop reaches it; the first page alone is `await chat.threads()` (`.data`, `.has_more`).

        `limit` is the page size (each request asks for that many), not a cap on the walk: stop the loop to
        take at most N.

        >>> async for thread in chat.threads():  # doctest: +SKIP
        ...     print(thread.id, thread.title)
        """
        params = list_params(limit=limit, order=order, after=None)
        first_page = partial(self._page, "threads.list", params, parse_thread, "threads")
        return AsyncPaginator(first_page)  # unasync: return first_page()

    async def get_thread(self, thread_id: str | None = None) -> Thread:
        """A thread's metadata (title, status), with its first items when the server includes them."""
        thread = require_thread(thread_id or self._state.thread_id, "get_thread")
        found = parse_thread(await self._call(envelope("threads.get_by_id", {"thread_id": thread})))
        self._state.remember_thread(found)
        return found

    def items(
        self, thread_id: str | None = None, *, limit: int | None = None, order: str = "asc"
    ) -> AsyncPaginator[ThreadItem]:  # unasync: ) -> SyncPage[ThreadItem]:
        """A thread's items, oldest first by default: `async for` over them walks every page; the first page
        alone is `await chat.items()`. `limit` is the page size, not a cap on the walk (see `threads`)."""
        thread = require_thread(thread_id or self._state.thread_id, "items")
        params = list_params(limit=limit, order=order, after=None, thread_id=thread)
        first_page = partial(self._page, "items.list", params, parse_item, "thread items")
        return AsyncPaginator(first_page)  # unasync: return first_page()

    async def _page(
        self, kind: str, params: dict[str, Any], parse: Callable[[Mapping[str, Any]], P], what: str
    ) -> AsyncPage[P]:
        """One page of a protocol list (`threads.list`, `items.list`); it fetches the next with `after`."""
        body = await self._call(envelope(kind, params))
        data, has_more, cursor = parse_page(body, parse, what=what)
        return AsyncPage(
            data,
            has_more=has_more,
            next_cursor=cursor,
            fetch=lambda after: self._page(kind, {**params, "after": after}, parse, what),
            what=what,
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
        """Turn speech into text with the server's `input.transcribe`; returns the text (nothing is sent
        to the thread).

        `audio` is bytes (then `mime_type` is required, e.g. `"audio/webm;codecs=opus"`), a path or a
        binary file (the type then comes from the extension unless given). At most 25 MB.

        >>> await chat.transcribe("question.webm")  # doctest: +SKIP
        'What is the weather in Paris?'
        """
        request = transcribe_request(*read_audio(audio, mime_type))
        return transcription_text(await self._call(request))

    async def delete_attachment(self, attachment_id: str) -> None:
        """Delete an uploaded attachment (`attachments.delete`), e.g. one the user removed before sending."""
        await self._call(delete_attachment_request(attachment_id))

    def export_threads(self, thread_ids: Sequence[str] | None = None) -> AsyncIterator[dict[str, Any]]:
        """Every thread this Chat can list (or those of `thread_ids`), each as one JSON-ready dict:
        the thread's fields and `items`, all of its items oldest first. Fetched lazily, thread by thread.

        Over the protocol a server hides its hidden-context items; `client.threads.export(...)` is the
        admin-API twin for hosted threads of any user.

        >>> import json
        >>> with open("threads.jsonl", "w") as out:  # async example  # doctest: +SKIP
        ...     async for record in chat.export_threads():
        ...         print(json.dumps(record), file=out)
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
        params = list_params(limit=20, order="desc", after=None, thread_id=thread_id)
        first = await self._page("items.list", params, parse_item, "thread items")
        async for page in first.iter_pages():
            found = newest_user_message_id(page.data)
            if found is not None:
                return found
        return None

    async def _drive(
        self, flow: SessionFlow[T], send: Callable[[str | None], Awaitable[Any]] | None = None
    ) -> T:
        """Run a session flow (`_core.session`): perform each step it yields, with `send` for `Send` steps,
        and send the outcome back in, or throw the failure in."""
        requester = self._requester
        outcome: Any = None
        failure: Exception | None = None
        try:
            while True:
                try:
                    step = flow.send(outcome) if failure is None else flow.throw(failure)
                except StopIteration as done:
                    result: T = done.value
                    return result
                outcome, failure = None, None
                try:
                    if isinstance(step, Send):
                        assert send is not None
                        outcome = await send(step.secret)
                    elif isinstance(step, CreateSession):
                        outcome = read_session(await requester.request(session_spec(requester.endpoints, step.params)))
                    else:  # Locked
                        async with self._session_lock:
                            outcome = await self._drive(step.flow)
                except Exception as err:
                    failure = err
        finally:
            flow.close()
            failure = None  # a raised failure's traceback holds this frame: leave no cycle for gc

    async def _ensure_session(self) -> ChatSession | None:
        """Create or renew the hosted session when needed; exactly one caller does it at a time."""
        assert self._session is not None
        return await self._drive(ensure_session(self._session))

    async def _authenticated(self, send: Callable[[str | None], Awaitable[T]]) -> T:
        """Run `send` with the current client secret (None when self-hosted); after a 401 on a session
        this Chat can renew, renew once and run it again."""
        if self._session is None:
            # Self-hosted: the flow would only yield `Send(None)` and re-raise any failure; skip its generator.
            return await send(None)
        result: T = await self._drive(authenticated(self._session), send)
        return result

    async def _call(self, request: dict[str, Any]) -> Any:
        requester = self._requester

        async def send(secret: str | None) -> Any:
            return (await requester.request(requester.endpoints.protocol(request, secret))).json()

        return await self._authenticated(send)

    async def _open_stream(self, stack: AsyncExitStack, request: dict[str, Any]) -> AsyncByteStream:
        requester = self._requester

        async def send(secret: str | None) -> AsyncByteStream:
            return await stack.enter_async_context(requester.stream(requester.endpoints.protocol(request, secret)))

        return await self._authenticated(send)

    async def _upload_all(self, prepared: list[PreparedFile]) -> list[str]:
        if not prepared:
            return []
        if self._session is not None:
            check_hosted_uploads(await self._ensure_session(), prepared)
            return [(await self._upload_hosted(item)).id for item in prepared]
        return [(await self._upload_self_hosted(item)).id for item in prepared]

    async def _upload_hosted(self, prepared: PreparedFile, on_progress: ProgressCallback | None = None) -> UploadedFile:
        requester = self._requester

        async def upload(secret: str | None) -> UploadedFile:
            assert secret is not None  # hosted Chats always have one
            with prepared.open(on_progress) as handle:
                response = await requester.request(upload_file_spec(requester.endpoints, secret, prepared, handle))
            return read_uploaded_file(response)

        return await self._authenticated(upload)

    async def _upload_self_hosted(
        self, prepared: PreparedFile, on_progress: ProgressCallback | None = None
    ) -> Attachment:
        endpoints = self._requester.endpoints
        server_url = endpoints.server_url
        assert server_url is not None
        created: Attachment | None = None
        target: tuple[str, str, Mapping[str, str]] | None = None
        if endpoints.upload_url is not None:
            target = (endpoints.upload_url, "POST", {})
        else:
            created = parse_attachment(
                await self._call(attachment_create_request(prepared.filename, prepared.size, prepared.mime_type))
            )
            target = upload_target(created)
            if target is None:
                return created
        headers = endpoints.server_headers()
        with prepared.open(on_progress) as handle:
            spec = upload_spec(prepared, handle, target, server_url=server_url, server_headers=headers)
            response = await self._requester.request(spec)
        return created if created is not None else parse_attachment(response.json())


def _given(request: dict[str, Any]) -> Callable[[], Awaitable[dict[str, Any]]]:
    """A turn's first request when it is known up front."""

    async def first_request() -> dict[str, Any]:
        return request

    return first_request
