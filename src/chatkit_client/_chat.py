"""`Chat` and `ChatStream`: one conversation with a ChatKit backend, synchronously.

The logic lives in `_chat_core` and `_protocol`; this shell only sends requests, reads bodies and
calls tool handlers. `_async_chat` is its twin, method for method.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from contextlib import ExitStack
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

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
from ._pagination import SyncPage, parse_page
from ._sync.transport import ByteStream
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

T = TypeVar("T")


class ChatStream:
    """A streamed turn: iterate it for typed events as they arrive; the HTTP response closes on exit.

    Nothing is sent until iteration starts. Iterating yields `chatkit_client.types` events;
    `text_deltas()` yields just the assistant's text; `reply` is everything so far. Errors surface from
    the iteration: `StreamError` (an error event), `StreamInterruptedError` (the connection broke), each
    with the partial `reply`. Closing the stream early stops the answer on the server (`allow_cancel`).

    >>> with chat.stream("Tell me a story") as stream:
    ...     for piece in stream.text_deltas():
    ...         print(piece, end="", flush=True)
    ...     reply = stream.get_final_reply()
    You said: Tell me a story
    >>> reply.text
    'You said: Tell me a story'
    """

    def __init__(self, chat: Chat, first_request: Callable[[], dict[str, Any]], *, keep_events: bool = False) -> None:
        self._chat = chat
        self._driver = TurnDriver(
            chat._state,
            keep_events=keep_events,
            max_event_size=chat._client.max_event_size,
            max_tool_rounds=chat._max_tool_rounds,
        )
        # A function, not a method: a generator holding its stream would make a cycle only gc can free.
        # It yields each chunk's payloads; they are parsed one at a time as events are asked for.
        self._events = _run_turn(chat, self._driver, first_request)
        self._batch: list[str] = []
        self._index = 0
        self._done = False

    def __iter__(self) -> Iterator[ThreadStreamEvent]:
        return self

    def __next__(self) -> ThreadStreamEvent:
        while self._index >= len(self._batch):
            self._pull()
        data = self._batch[self._index]
        self._index += 1
        try:
            return self._driver.event(data)
        except BaseException:
            self._stop()
            raise

    def _pull(self) -> None:
        """Read the next chunk's payloads (raises StopIteration, or the turn's failure, at the end)."""
        try:
            self._batch = next(self._events)
        except StopIteration:
            self._done = True
            self._batch = []
            if self._driver.failure is not None:
                raise self._driver.failure from None
            raise
        self._index = 0

    def _stop(self) -> None:
        # A payload failed: the turn is over, as when the generator itself raises.
        self._batch = []
        self._events.close()

    @property
    def allow_cancel(self) -> bool | None:
        """Whether the server lets this answer be stopped (its `stream_options` event); None until it says.

        To stop an answer, `close()` the stream (or leave its `with` block): the connection closes and
        an openai-chatkit server cancels the answer, keeping what it had streamed. When this is False
        the server may finish the answer anyway; it is stored in the thread, not shown.
        """
        return self._driver.allow_cancel

    def text_deltas(self) -> Iterator[str]:
        """The assistant's text, piece by piece, as it arrives."""
        driver = self._driver
        while True:
            while self._index >= len(self._batch):
                try:
                    self._pull()
                except StopIteration:
                    return
            data = self._batch[self._index]
            self._index += 1
            try:
                found = driver.text_or_event(data)
            except BaseException:
                self._stop()
                raise
            if type(found) is str:
                yield found
            elif isinstance(found, ThreadItemUpdatedEvent) and isinstance(
                found.update, AssistantMessageContentPartTextDelta
            ):
                yield found.update.delta

    def get_final_reply(self) -> Reply:
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
                    self._stop()
                    raise
            try:
                self._pull()
            except StopIteration:
                return driver.reply()

    @property
    def reply(self) -> Reply:
        """Everything received so far, as a Reply."""
        return self._driver.reply()

    def close(self) -> None:
        """Stop reading and close the HTTP response, which stops the answer on the server (see
        `allow_cancel`); what arrived stays in `reply`.

        >>> with chat.stream("Write a long essay") as stream:  # doctest: +SKIP
        ...     for piece in stream.text_deltas():
        ...         if len(stream.reply.text) > 200:
        ...             break  # leaving the block closes the stream: the server stops answering
        """
        stopped = not self._done  # a turn that has not ended (stopped, interrupted, failed) midway
        self._events.close()
        if stopped:
            # A stopped answer still started (or continued) a thread: the next message continues it.
            self._chat._state.observe(self._driver.reply())

    def __enter__(self) -> ChatStream:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _run_turn(chat: Chat, driver: TurnDriver, first_request: Callable[[], dict[str, Any]]) -> Generator[list[str]]:
    """The turn's rounds: yields each chunk's payloads, which the stream applies before asking for more."""
    request: dict[str, Any] | None = first_request()
    while request is not None:
        with ExitStack() as stack:
            try:
                body = chat._open_stream(stack, request)
            except BodyFailedAfterStatusError as err:
                raise driver.failed_before_body(err) from err
            driver.begin_round(body.content_type, body.headers)
            try:
                for chunk in body:
                    yield driver.payloads(chunk)
            except APIConnectionError as err:
                raise driver.interrupted(err) from err
            yield driver.end_payloads()
        found = driver.next_tool_round()
        if found is None:
            return
        call, handler = found
        try:
            output = tool_output(call, handler(dict(call.arguments)))
        except Exception as err:
            output = tool_output(call, error=err)
        request = driver.tool_output_request(call, output)


class Chat:
    """One conversation with a ChatKit backend: hosted (a session it renews itself) or self-hosted.

    Create it with `client.chat(...)`. A Chat may be shared by threads; it keeps the thread id, so each
    message continues the same thread until `new_thread()`.

    >>> chat = client.chat(user="user_123", workflow="wf_abc")
    >>> print(chat.send("Hello!").text)
    You said: Hello!
    >>> print(chat.send("And in French?").text)  # same thread
    You said: And in French?
    """

    def __init__(
        self,
        client: ChatKit,
        *,
        session: SessionState | None = None,
        thread_id: str | None = None,
        client_tools: Mapping[str, ToolHandler] | None = None,
        max_tool_rounds: int = DEFAULT_MAX_TOOL_ROUNDS,
    ) -> None:
        self._client = client
        self._session = session
        # Held while creating a session, so that concurrent threads create exactly one.
        self._session_lock = threading.Lock()
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

        >>> reply = chat.send("Summarise this", files=[("notes.txt", b"Meeting at noon.")])
        >>> print(reply.text)
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
        """Send a message and stream the answer: returns a `ChatStream` to iterate (use it in `with`).

        Takes the same arguments as `send`; they are checked here (raising `InvalidInputError`), and the
        request goes out when iteration starts. Errors of the turn are raised by the iteration (see
        `send`). Leaving the `with` block early stops the answer.

        >>> with chat.stream("Hi there") as stream:
        ...     pieces = list(stream.text_deltas())
        >>> "".join(pieces)
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

        def first_request() -> dict[str, Any]:
            uploaded = self._upload_all(prepared)
            return message_request({**template, "attachments": ids + uploaded}, self._state.thread_id)

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
            return retry_request(thread_id, target)

        return ChatStream(self, first_request)

    def custom_action(self, action: Mapping[str, Any], *, item_id: str | None = None) -> Reply:
        """Press a widget action (`{"type": ..., "payload": ...}`) on `item_id` and return the answer."""
        params = action_params(require_thread(self._state.thread_id, "custom_action"), action, item_id)
        return self._turn(envelope("threads.custom_action", params))

    def add_tool_output(self, result: object) -> Reply:
        """Answer the pending client tool call with `result` (JSON-serialisable) and return the answer."""
        with self.stream_tool_output(result) as stream:
            return stream.get_final_reply()

    def stream_tool_output(self, result: object) -> ChatStream:
        """Like `add_tool_output`, streamed.

        Raises `InvalidInputError` before sending when this Chat saw the thread's last turn end without a
        pending client tool call.
        """
        request = tool_output_request(require_thread(self._state.thread_id, "add_tool_output"), result)
        self._state.check_tool_output()
        return ChatStream(self, lambda: request)

    def _turn(self, request: dict[str, Any]) -> Reply:
        with ChatStream(self, lambda: request) as stream:
            return stream.get_final_reply()

    def add_structured_input(
        self, item_id: str, answers: Mapping[str, str | Sequence[str] | None], *, skipped: bool = False
    ) -> Reply:
        """Answer a pending structured input item (`answers` keyed by question id) and return the answer.

        `skipped=True` declines it. The item is a `StructuredInputItem` (`reply.pending_structured_input`);
        each question's `id` keys its answer.

        >>> item = reply.pending_structured_input  # doctest: +SKIP
        >>> chat.add_structured_input(item.id, {item.inputs[0].id: "red"}).text  # doctest: +SKIP
        'You answered: red'

        Raises `InvalidInputError` before sending when this Chat saw `item_id` and it is not a pending
        structured input.
        """
        with self.stream_structured_input(item_id, answers, skipped=skipped) as stream:
            return stream.get_final_reply()

    def stream_structured_input(
        self, item_id: str, answers: Mapping[str, str | Sequence[str] | None], *, skipped: bool = False
    ) -> ChatStream:
        """Like `add_structured_input`, streamed."""
        thread_id = require_thread(self._state.thread_id, "add_structured_input")
        request = structured_input_request(thread_id, item_id, answers, skipped=skipped)
        self._state.check_structured_input(item_id)
        return ChatStream(self, lambda: request)

    def sync_custom_action(self, action: Mapping[str, Any], *, item_id: str | None = None) -> ThreadItem | None:
        """Press a widget action the server answers at once, without a stream: returns the updated item."""
        params = action_params(require_thread(self._state.thread_id, "sync_custom_action"), action, item_id)
        return parse_updated_item(self._call(envelope("threads.sync_custom_action", params)))

    # -- threads over the protocol ---------------------------------------------------------------
    def threads(self, *, limit: int | None = None, order: str = "desc") -> SyncPage[Thread]:
        """This user's threads, newest first by default; iterating the page walks all of them.

        `limit` is the page size (each request asks for that many); iteration still walks every page.
        Take at most N with `itertools.islice(chat.threads(), N)`.

        >>> for thread in chat.threads():  # doctest: +SKIP
        ...     print(thread.id, thread.title)
        """
        return self._threads_page(list_params(limit=limit, order=order, after=None))

    def _threads_page(self, params: dict[str, Any]) -> SyncPage[Thread]:
        data, has_more, cursor = parse_page(self._call(envelope("threads.list", params)), parse_thread, what="threads")
        return SyncPage(
            data,
            has_more=has_more,
            next_cursor=cursor,
            fetch=lambda after: self._threads_page({**params, "after": after}),
            what="threads",
            cursor=params.get("after"),
        )

    def get_thread(self, thread_id: str | None = None) -> Thread:
        """A thread's metadata (title, status), with its first items when the server includes them."""
        thread = require_thread(thread_id or self._state.thread_id, "get_thread")
        found = parse_thread(self._call(envelope("threads.get_by_id", {"thread_id": thread})))
        self._state.remember_thread(found)
        return found

    def items(
        self, thread_id: str | None = None, *, limit: int | None = None, order: str = "asc"
    ) -> SyncPage[ThreadItem]:
        """A thread's items, oldest first by default; iterating the page walks all of them.

        `limit` is the page size, not a cap on the walk (see `threads`).
        """
        thread = require_thread(thread_id or self._state.thread_id, "items")
        return self._items_page(list_params(limit=limit, order=order, after=None, thread_id=thread))

    def _items_page(self, params: dict[str, Any]) -> SyncPage[ThreadItem]:
        data, has_more, cursor = parse_page(self._call(envelope("items.list", params)), parse_item, what="thread items")
        return SyncPage(
            data,
            has_more=has_more,
            next_cursor=cursor,
            fetch=lambda after: self._items_page({**params, "after": after}),
            what="thread items",
            cursor=params.get("after"),
        )

    def rename(self, title: str, *, thread_id: str | None = None) -> Thread:
        """Set a thread's title."""
        thread = require_thread(thread_id or self._state.thread_id, "rename")
        renamed = parse_thread(self._call(rename_request(thread, title)))
        self._state.remember_thread(renamed)
        return renamed

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

    def upload(self, file: FileInput, *, on_progress: ProgressCallback | None = None) -> UploadedFile | Attachment:
        """Upload a file now and return it; pass its `id` in `attachments=` later.

        `on_progress(sent_bytes, total_bytes)` is called as the bytes are sent.
        """
        prepared = prepare_file(file)
        if self._session is not None:
            check_hosted_uploads(self._ensure_session(), [prepared])
            return self._upload_hosted(prepared, on_progress)
        return self._upload_self_hosted(prepared, on_progress)

    def transcribe(self, audio: AudioInput, *, mime_type: str | None = None) -> str:
        """Turn speech into text with the server's `input.transcribe`; returns the text (nothing is sent
        to the thread).

        `audio` is bytes (then `mime_type` is required, e.g. `"audio/webm;codecs=opus"`), a path or a
        binary file (the type then comes from the extension unless given). At most 25 MB.

        >>> chat.transcribe("question.webm")  # doctest: +SKIP
        'What is the weather in Paris?'
        """
        request = transcribe_request(*read_audio(audio, mime_type))
        return transcription_text(self._call(request))

    def delete_attachment(self, attachment_id: str) -> None:
        """Delete an uploaded attachment (`attachments.delete`), e.g. one the user removed before sending."""
        self._call(delete_attachment_request(attachment_id))

    def export_threads(self, thread_ids: Sequence[str] | None = None) -> Iterator[dict[str, Any]]:
        """Every thread this Chat can list (or those of `thread_ids`), each as one JSON-ready dict:
        the thread's fields and `items`, all of its items oldest first. Fetched lazily, thread by thread.

        Over the protocol a server hides its hidden-context items; `client.threads.export(...)` is the
        admin-API twin for hosted threads of any user.

        >>> import json
        >>> with open("threads.jsonl", "w") as out:
        ...     for record in chat.export_threads():
        ...         print(json.dumps(record), file=out)
        """
        return self._export(export_ids(thread_ids))

    def _export(self, ids: list[str] | None) -> Iterator[dict[str, Any]]:
        if ids is not None:
            threads: Iterator[Thread] = (self.get_thread(thread_id) for thread_id in ids)
        else:
            threads = iter(self.threads(limit=EXPORT_PAGE_SIZE))
        for thread in threads:
            yield thread_record(thread, self.items(thread.id, limit=EXPORT_PAGE_SIZE, order="asc"))

    # -- plumbing ------------------------------------------------------------------------------
    def _find_last_user_message(self, thread_id: str) -> str | None:
        # Newest first, page by page: an answer may have added more items than one page since the message.
        first = self._items_page(list_params(limit=20, order="desc", after=None, thread_id=thread_id))
        for page in first.iter_pages():
            found = newest_user_message_id(page.data)
            if found is not None:
                return found
        return None

    def _ensure_session(self) -> ChatSession | None:
        """Create or renew the hosted session when needed; exactly one caller does it at a time."""
        state = self._session
        assert state is not None
        if state.needs_session():
            ticket = state.ticket()
            with self._session_lock:
                if state.needs_session():
                    self._create_session(ticket)
        return state.session

    def _renew_after_401(self, used_secret: str) -> bool:
        state = self._session
        if state is None or not state.can_renew:
            return False
        ticket = state.ticket()
        with self._session_lock:
            # Another thread may have renewed already; the secret that failed tells us.
            if state.is_current(used_secret):
                self._create_session(ticket)
        return True

    def _create_session(self, ticket: int) -> None:
        """With the session lock held: share the outcome of an attempt that ran while we waited, else try."""
        state = self._session
        assert state is not None and state.params is not None
        failure = state.shared_failure(ticket)
        if failure is not None:
            raise failure
        try:
            session, date = self._client.sessions._create_dated(**state.params)
        except Exception as err:
            state.attempt_failed(err)
            raise
        state.install(session, date_header=date)

    def _authenticated(self, send: Callable[[str | None], T]) -> T:
        """Run `send` with the current client secret (None when self-hosted); after a 401 on a session
        this Chat can renew, renew once and run it again."""
        for last_try in (False, True):
            secret = None
            if self._session is not None:
                self._ensure_session()
                secret = self._session.secret()
            try:
                return send(secret)
            except AuthenticationError:
                if last_try or secret is None or not self._renew_after_401(secret):
                    raise
        raise AssertionError("unreachable")

    def _call(self, request: dict[str, Any]) -> Any:
        transport = self._client._transport
        return self._authenticated(
            lambda secret: transport.request(self._client._protocol_spec(request, secret)).json()
        )

    def _open_stream(self, stack: ExitStack, request: dict[str, Any]) -> ByteStream:
        client = self._client
        return self._authenticated(
            lambda secret: stack.enter_context(client._transport.stream(client._protocol_spec(request, secret)))
        )

    def _upload_all(self, prepared: list[PreparedFile]) -> list[str]:
        if not prepared:
            return []
        if self._session is not None:
            check_hosted_uploads(self._ensure_session(), prepared)
            return [self._upload_hosted(item).id for item in prepared]
        return [self._upload_self_hosted(item).id for item in prepared]

    def _upload_hosted(self, prepared: PreparedFile, on_progress: ProgressCallback | None = None) -> UploadedFile:
        files = self._client.files

        def upload(secret: str | None) -> UploadedFile:
            assert secret is not None  # hosted Chats always have one
            return files._upload_prepared(prepared, secret, on_progress)

        return self._authenticated(upload)

    def _upload_self_hosted(self, prepared: PreparedFile, on_progress: ProgressCallback | None = None) -> Attachment:
        client = self._client
        assert client.server_url is not None
        created: Attachment | None = None
        target: tuple[str, str, Mapping[str, str]] | None = None
        if client.upload_url is not None:
            target = (client.upload_url, "POST", {})
        else:
            created = parse_attachment(
                self._call(attachment_create_request(prepared.filename, prepared.size, prepared.mime_type))
            )
            target = upload_target(created)
            if target is None:
                return created
        headers = client._server_headers()
        with prepared.open(on_progress) as handle:
            spec = upload_spec(prepared, handle, target, server_url=client.server_url, server_headers=headers)
            response = client._transport.request(spec)
        return created if created is not None else parse_attachment(response.json())
