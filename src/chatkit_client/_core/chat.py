"""Everything a Chat does that needs no I/O, written once for `Chat` and `AsyncChat`.

- `SessionState` (in `session`): the hosted session a Chat owns, and when it must be renewed.
- `ChatState`: the thread a Chat continues, its client tools, and the calls already answered.
- `EventDecoder` (in `decoder`): bytes in, typed events out, each applied to the turn's `ReplyBuilder`.
- request preparation: protocol envelopes, upload checks against the session's settings.

Imports: stdlib, pydantic, types, _exceptions, _constants, and core: decoder, files, protocol, reply, requests, sse.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, TypeAlias, TypeVar
from urllib.parse import urlsplit

from .._constants import LOGGER_NAME
from .._exceptions import (
    APIResponseValidationError,
    APITimeoutError,
    BodyFailedAfterStatusError,
    InvalidInputError,
    StreamDecodeError,
    StreamEndedEarlyError,
    StreamError,
    StreamInterruptedError,
    ToolRoundsExceededError,
)
from .files import FileInput, PreparedFile, prepare_file
from .protocol import check_json_serialisable, tool_output_request
from .requests import RequestSpec
from .sse import DEFAULT_MAX_EVENT_SIZE

# The models (pydantic), and the decoder and builder made of them, are imported where a turn or a parse first
# needs them, not with this module: a client that has not yet run a turn has not loaded pydantic (issue 9).
if TYPE_CHECKING:
    from pydantic import BaseModel

    from ..types import (
        Attachment,
        ChatSession,
        ClientToolCallItem,
        ErrorEvent,
        Thread,
        ThreadItem,
        ThreadStreamEvent,
    )
    from .reply import Reply

# A pydantic model class; bound by name so that this module does not import pydantic.
M = TypeVar("M", bound="BaseModel")

__all__ = [
    "DEFAULT_MAX_TOOL_ROUNDS",
    "ChatState",
    "ToolHandler",
    "TurnDriver",
    "check_attachment_ids",
    "check_hosted_uploads",
    "check_max_tool_rounds",
    "newest_user_message_id",
    "parse_attachment",
    "parse_thread",
    "parse_updated_item",
    "prepare_files",
    "same_origin",
    "stream_error",
    "tool_output",
    "upload_spec",
    "upload_target",
]

log = logging.getLogger(LOGGER_NAME)

ToolHandler: TypeAlias = Callable[[dict[str, Any]], Any]
"""A client tool: called with the call's arguments, returns a JSON-serialisable result (may be async for AsyncChat)."""


DEFAULT_MAX_TOOL_ROUNDS = 25
"""Client tool calls answered automatically in one turn before `ToolRoundsExceededError`."""


def check_max_tool_rounds(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInputError("max_tool_rounds", f"must be a whole number of rounds, 0 or more; got {value!r}")
    return value


ToolRound: TypeAlias = "tuple[ClientToolCallItem, ToolHandler]"

# How many item ids a Chat remembers (to refuse a structured-input answer for an item it knows is not one).
_ITEMS_REMEMBERED = 1024
_PENDING = "pending"


@dataclass
class ChatState:
    """The conversation a Chat continues: thread, last user message, client tools, and what the last
    turn left pending (to refuse locally what the Chat knows the server would refuse)."""

    thread_id: str | None = None
    last_user_item_id: str | None = None
    tools: dict[str, ToolHandler] = field(default_factory=dict)
    thread: Thread | None = None
    """The thread's metadata as last seen (title, status); see `known_thread`."""
    knows_last_turn: bool = False
    """Whether this Chat saw the thread's last turn end, so that `pending_call` is the server's truth."""
    pending_call: ClientToolCallItem | None = None
    # item id -> "pending" (a structured input waiting for answers) or a description of what it is.
    items_seen: OrderedDict[str, str] = field(default_factory=OrderedDict)

    def reset(self, thread_id: str | None = None) -> None:
        """Forget the thread: the next message starts `thread_id` (None: a new thread)."""
        self.thread_id = thread_id
        self.last_user_item_id = None
        self.thread = None
        self.knows_last_turn = False
        self.pending_call = None
        self.items_seen.clear()

    def known_thread(self) -> Thread | None:
        """The metadata of this Chat's current thread, if it has seen it."""
        thread = self.thread
        return thread if thread is not None and thread.id == self.thread_id else None

    def remember_thread(self, thread: Thread) -> None:
        """Metadata learned outside a turn (get_thread, rename) of this Chat's thread."""
        if thread.id == self.thread_id:
            self.thread = thread

    def check_tool_output(self) -> None:
        """Refuse a tool output when this Chat saw the last turn end without a pending client tool call."""
        if self.knows_last_turn and self.pending_call is None:
            raise InvalidInputError(
                "result",
                f"no client tool call is waiting for an output in thread {self.thread_id}: the last turn "
                "ended without one (reply.pending_client_tool_call was None)",
            )

    def check_structured_input(self, item_id: str) -> None:
        """Refuse answers for an item this Chat saw and knows is not a pending structured input."""
        seen = self.items_seen.get(item_id)
        if seen is not None and seen != _PENDING:
            raise InvalidInputError("item_id", f"{item_id!r} is not a pending structured input: it is {seen}")

    def register_tool(self, name: str, handler: ToolHandler) -> None:
        if not isinstance(name, str) or not name:
            raise InvalidInputError("client_tools", f"tool names must be non-empty strings, got {name!r}")
        if not callable(handler):
            raise InvalidInputError(f"client_tools[{name!r}]", "must be a callable taking the arguments dict")
        self.tools[name] = handler

    def observe(self, reply: Reply, *, complete: bool = True) -> None:
        """Take the thread, the user message and what is pending from a turn; `complete=False` for a
        turn that broke (the server's state is then unknown)."""
        if reply.thread_id:
            if reply.thread_id != self.thread_id:
                self.items_seen.clear()
            self.thread_id = reply.thread_id
        if reply.thread is not None and reply.thread.id == self.thread_id:
            self.thread = reply.thread
        if reply.user_message is not None:
            self.last_user_item_id = reply.user_message.id
        self.knows_last_turn = complete
        self.pending_call = reply.pending_client_tool_call if complete else None
        for item in reply.items:
            self._remember_item(item)

    def _remember_item(self, item: ThreadItem) -> None:
        if item.type == "structured_input":
            status = getattr(item, "status", None) or (item.model_extra or {}).get("status") or _PENDING
            what = _PENDING if status == _PENDING else f"a structured input already {status}"
        else:
            what = f"a {item.type} item"
        seen = self.items_seen
        seen[item.id] = what
        seen.move_to_end(item.id)
        if len(seen) > _ITEMS_REMEMBERED:
            seen.popitem(last=False)

    def next_tool_round(self, reply: Reply, answered: set[str]) -> ToolRound | None:
        """The pending client tool call this Chat can answer now, if the turn ended on one."""
        call = reply.pending_client_tool_call
        if call is None or call.call_id in answered:
            return None
        handler = self.tools.get(call.name)
        return (call, handler) if handler is not None else None


def tool_output(call: ClientToolCallItem, result: object = None, error: BaseException | None = None) -> object:
    """The JSON value sent back for a client tool call: the handler's result, or `{"error": ...}`."""
    if error is not None:
        log.warning("client tool %r raised %s: %s", call.name, type(error).__name__, error)
        return {"error": str(error) or type(error).__name__}
    try:
        check_json_serialisable(result, f"client tool {call.name!r} result")
    except InvalidInputError as err:
        log.warning("%s", err)
        return {"error": str(err)}
    return result


def stream_error(event: ErrorEvent, reply: Reply) -> StreamError:
    return StreamError(event.message, code=event.code, allow_retry=bool(event.allow_retry), reply=reply)



def check_hosted_uploads(session: ChatSession | None, files: Sequence[PreparedFile]) -> None:
    """Refuse, before sending anything, uploads the session's settings would reject."""
    if session is None or not files:
        return
    config = session.chatkit_configuration
    upload = config.file_upload if config is not None else None
    if upload is None:
        return
    if upload.enabled is False:
        raise InvalidInputError(
            "files",
            "file uploads are disabled for this session; create it with "
            "chatkit_configuration={'file_upload': {'enabled': True}}",
        )
    if upload.max_files is not None and len(files) > upload.max_files:
        raise InvalidInputError(
            "files",
            f"{len(files)} files exceed the session's limit of {upload.max_files}; "
            "raise chatkit_configuration.file_upload.max_files",
        )
    if upload.max_file_size is not None:
        limit = upload.max_file_size * 1024 * 1024
        for prepared in files:
            if prepared.size is not None and prepared.size > limit:
                raise InvalidInputError(
                    "files",
                    f"{prepared.filename} is {prepared.size / 1048576:.1f} MB, over the session's limit of "
                    f"{upload.max_file_size} MB; raise chatkit_configuration.file_upload.max_file_size (up to 512)",
                )


def _answer_model(model: type[M], article: str, noun: str, body: object) -> M:
    """`model` from a protocol answer: a mismatch says where and what, as `APIResponseValidationError`."""
    from pydantic import ValidationError

    from ..types._base import describe_validation_error

    if not isinstance(body, Mapping):
        raise APIResponseValidationError(f"expected {article} {noun} object, got {type(body).__name__}", body=body)
    try:
        return model.model_validate(body)
    except ValidationError as err:
        raise APIResponseValidationError(
            f"the {noun} in the response is malformed: {describe_validation_error(err)}", body=body
        ) from err


def parse_thread(body: object) -> Thread:
    from ..types import Thread

    return _answer_model(Thread, "a", "thread", body)


def parse_updated_item(body: object) -> ThreadItem | None:
    """The `updated_item` of a `threads.sync_custom_action` answer."""
    if not isinstance(body, Mapping):
        raise APIResponseValidationError(f"expected a sync action result object, got {type(body).__name__}", body=body)
    from ..types import parse_item

    item = body.get("updated_item")
    return None if item is None else parse_item(item)


def parse_attachment(body: object) -> Attachment:
    from ..types import Attachment

    return _answer_model(Attachment, "an", "attachment", body)


def upload_target(attachment: Attachment) -> tuple[str, str, dict[str, str]] | None:
    """Where a two-phase upload sends the bytes: the descriptor (current servers) or `upload_url` (2025 servers)."""
    descriptor = attachment.upload_descriptor
    if descriptor is not None:
        return descriptor.url, descriptor.method.upper() or "PUT", dict(descriptor.headers)
    if attachment.upload_url:
        return attachment.upload_url, "POST", {}
    return None


def newest_user_message_id(items_newest_first: Sequence[object]) -> str | None:
    """The id of the most recent user message in a page of items listed newest first."""
    from ..types import UserMessageItem

    for item in items_newest_first:
        if isinstance(item, UserMessageItem):
            return item.id
    return None


def _kept(reply: Reply) -> str:
    return f" The {len(reply.items)} items received are in .reply." if reply.items else ""


_PartialError = TypeVar(
    "_PartialError", StreamInterruptedError, StreamEndedEarlyError, StreamDecodeError, ToolRoundsExceededError
)

# Content codings httpx2 always decodes; others (br, zstd) only with an optional package, else they pass raw.
_ALWAYS_DECODED = frozenset({"", "identity", "gzip", "deflate"})
_NOT_RESENT = "The server took the request, so it was not sent again; its log has the cause."


class TurnDriver:
    """One turn, from the first request to the last tool round, without I/O.

    The shells open each request, feed the body's chunks here, run tool handlers (sync or async) and
    send what this asks for next; events, Reply assembly, error events and thread bookkeeping live here.

    A 2xx stream that ends without a single event, or that the server closes before its end, raises
    `StreamEndedEarlyError` (one mechanism for an empty body, undecodable bytes and a server that fails
    after its 200 status). More than `max_tool_rounds` client tool calls in one turn raise
    `ToolRoundsExceededError`.
    """

    event: Callable[[str], ThreadStreamEvent]
    """Parse one payload of the round, apply it and return its event: the round's `EventDecoder.event`
    itself (a stream calls it per event), which records a failure here (`on_error`)."""
    delta_text: Callable[[str], str | None]
    """Apply one payload of the round: the text of a text delta, None for another event (`text_deltas()`);
    the round's `EventDecoder.delta_text`, recording a failure here as `event` does."""

    def __init__(
        self,
        state: ChatState,
        *,
        keep_events: bool = False,
        max_event_size: int | None = DEFAULT_MAX_EVENT_SIZE,
        max_tool_rounds: int = DEFAULT_MAX_TOOL_ROUNDS,
    ) -> None:
        from .decoder import EventDecoder
        from .reply import ReplyBuilder

        self.state = state
        self.builder = ReplyBuilder(keep_events=keep_events, thread=state.known_thread(), thread_id=state.thread_id)
        self.answered: set[str] = set()
        self.max_event_size = max_event_size
        self.max_tool_rounds = max_tool_rounds
        self.decoder = EventDecoder(self.builder, max_event_size=max_event_size, on_error=self._fail)
        self.event = self.decoder.event
        self.delta_text = self.decoder.delta_text
        self.failure: BaseException | None = None
        self.events_received = 0
        self._allow_cancel: bool | None = None
        self._encoding = ""

    def begin_round(self, content_type: str, headers: Mapping[str, str] | None = None) -> None:
        from .decoder import EventDecoder, check_stream_content_type

        check_stream_content_type(content_type)
        self.events_received += self.decoder.events
        self._allow_cancel = self.allow_cancel
        self.decoder = EventDecoder(self.builder, max_event_size=self.max_event_size, on_error=self._fail)
        self.event = self.decoder.event
        self.delta_text = self.decoder.delta_text
        self._encoding = (headers or {}).get("content-encoding", "").strip().lower()

    def feed(self, chunk: bytes) -> list[ThreadStreamEvent]:
        """A chunk's typed events at once (the shells step through `payloads` and `event` instead)."""
        return [self.event(data) for data in self.payloads(chunk)]

    def end_round(self) -> list[ThreadStreamEvent]:
        return [self.event(data) for data in self.end_payloads()]

    # The shells' steps: a round's bytes become payloads (`payloads`, `end_payloads`), applied one at a time
    # as events are asked for (`event`, `text_or_event`) or a batch at once (`apply_quietly`), so that the
    # first event of a chunk is yielded before the rest of the chunk is parsed.
    def payloads(self, chunk: bytes) -> list[str]:
        try:
            return self.decoder.payloads(chunk)
        except StreamDecodeError as err:
            raise self._fail(err) from None

    def end_payloads(self) -> list[str]:
        """The round's last payloads; every earlier one must have been applied."""
        try:
            payloads = self.decoder.final_payloads()
        except StreamDecodeError as err:
            raise self._fail(err) from None
        if self.decoder.events == 0 and not payloads:
            reply = self.reply()
            raise self._fail(
                StreamEndedEarlyError(
                    self._no_event_message() + _kept(reply), events_received=self.events_received, reply=reply
                )
            )
        return payloads

    def text_or_event(self, data: str) -> str | ThreadStreamEvent:
        try:
            return self.decoder.text_or_event(data)
        except StreamDecodeError as err:
            raise self._fail(err) from None

    def apply_quietly(self, payloads: list[str]) -> None:
        try:
            self.decoder.apply_quietly(payloads)
        except StreamDecodeError as err:
            raise self._fail(err) from None

    @property
    def allow_cancel(self) -> bool | None:
        """The latest `stream_options.allow_cancel` of the turn, None before any."""
        return self._allow_cancel if self.decoder.allow_cancel is None else self.decoder.allow_cancel

    def _no_event_message(self) -> str:
        size = self.decoder.bytes
        body = "the body was empty" if size == 0 else f"its {size:,} bytes held no event"
        if self._encoding not in _ALWAYS_DECODED:
            body += (
                f"; it was labelled Content-Encoding: {self._encoding}, which this client cannot decode "
                "(br needs the brotli package, zstd the zstandard package)"
            )
        return (
            f"the server accepted the request but its stream ended without any event ({body}): "
            f"no answer arrived. {_NOT_RESENT}"
        )

    def interrupted(self, err: BaseException) -> StreamInterruptedError:
        """The body broke mid-stream: a timeout is ours; anything else means the server closed the stream."""
        reply = self.reply()
        if isinstance(err, APITimeoutError):
            return self._fail(
                StreamInterruptedError(
                    f"the stream stopped mid-answer ({err}); the {len(reply.items)} items received so far "
                    "are in .reply",
                    reply=reply,
                )
            )
        count = self.events_received + self.decoder.events
        return self._ended_early(err, count, reply)

    def failed_before_body(self, err: BodyFailedAfterStatusError) -> StreamEndedEarlyError:
        """The server answered 2xx and the body failed before its first byte."""
        # Earlier rounds of the turn (before a tool output was sent) count too: their events are in the reply.
        count = self.events_received + self.decoder.events
        return self._ended_early(err, count, self.reply(), status=err.status_code)

    def _ended_early(
        self, err: BaseException, count: int, reply: Reply, *, status: int | None = None
    ) -> StreamEndedEarlyError:
        accepted = f"the server accepted the request ({status})" if status else "the server accepted the request"
        when = "before any event" if count == 0 else f"after {count} events, before the answer ended"
        detail = getattr(err, "message", None) or str(err) or type(err).__name__
        return self._fail(
            StreamEndedEarlyError(
                f"{accepted} but its stream broke off {when} ({detail}). A server that fails after sending "
                f"its 200 status closes the stream like this. {_NOT_RESENT}{_kept(reply)}",
                events_received=count,
                reply=reply,
            )
        )

    def _fail(self, err: _PartialError) -> _PartialError:
        if err is self.failure:
            return err  # already recorded (by the decoder, under one of the batch steps)
        self.state.observe(err.reply or self.reply(), complete=False)
        self.failure = err
        return err

    def next_tool_round(self) -> ToolRound | None:
        """After a round: raise the stream's error event, or name the tool call to answer, or None when done."""
        reply = self.reply()
        self.state.observe(reply)
        if self.decoder.error is not None:
            self.failure = stream_error(self.decoder.error, reply)
            raise self.failure
        found = self.state.next_tool_round(reply, self.answered)
        if found is not None:
            if len(self.answered) >= self.max_tool_rounds:
                # The turn itself ended well (observed above): the call stays pending for add_tool_output.
                self.failure = ToolRoundsExceededError(
                    f"the server asked for a client tool call more than {self.max_tool_rounds} times in one "
                    f"turn (max_tool_rounds); the last one ({found[0].name!r}) was not answered and stays "
                    "pending. Raise max_tool_rounds on client.chat(...) if the workflow needs more rounds; "
                    "the turn so far is in .reply",
                    max_tool_rounds=self.max_tool_rounds,
                    reply=reply,
                )
                raise self.failure
            self.answered.add(found[0].call_id)
        return found

    def tool_output_request(self, call: ClientToolCallItem, output: object) -> dict[str, Any]:
        # The server sends no event when a call gets its output, so the Reply learns it here.
        self.builder.record_client_tool_output(call.id, output)
        return tool_output_request(self.builder.thread_id or self.state.thread_id, output)

    def reply(self) -> Reply:
        return self.builder.reply()


def same_origin(a: str, b: str) -> bool:
    left, right = urlsplit(a), urlsplit(b)
    return (left.scheme, left.netloc) == (right.scheme, right.netloc)


def prepare_files(files: Sequence[FileInput] | None) -> list[PreparedFile]:
    if files is None:
        return []
    if isinstance(files, str | bytes) or not isinstance(files, Sequence):
        raise InvalidInputError("files", "must be a list of files (paths, binary files or (name, content) tuples)")
    return [prepare_file(file, field=f"files[{index}]") for index, file in enumerate(files)]


def check_attachment_ids(attachments: Sequence[str] | None) -> list[str]:
    if attachments is None:
        return []
    if isinstance(attachments, str) or not isinstance(attachments, Sequence):
        raise InvalidInputError("attachments", "must be a list of uploaded file ids")
    return list(attachments)


def upload_spec(
    prepared: PreparedFile,
    handle: IO[bytes],
    target: tuple[str, str, Mapping[str, str]],
    *,
    server_url: str,
    server_headers: Mapping[str, str],
) -> RequestSpec:
    """The request carrying a file's bytes to a self-hosted upload URL (multipart part `file`)."""
    url, method, extra = target
    # The app's own credentials go only to the app's own origin, never to a storage URL elsewhere.
    headers = {**(server_headers if same_origin(url, server_url) else {}), **extra, "Accept": "application/json"}
    return RequestSpec(method, url, headers=headers, files={"file": (prepared.filename, handle, prepared.mime_type)})
