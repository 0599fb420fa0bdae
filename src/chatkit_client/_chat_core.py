"""Everything a Chat does that needs no I/O, written once for `Chat` and `AsyncChat`.

- `SessionState`: the hosted session a Chat owns, and when it must be renewed.
- `ChatState`: the thread a Chat continues, its client tools, and the calls already answered.
- `EventDecoder`: bytes in, typed events out, each applied to the turn's `ReplyBuilder`.
- request preparation: protocol envelopes, upload checks against the session's settings.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, TypeAlias, TypeVar
from urllib.parse import urlsplit

from pydantic import ValidationError

from ._constants import LOGGER_NAME
from ._exceptions import (
    APIResponseValidationError,
    InvalidInputError,
    StreamDecodeError,
    StreamError,
    StreamInterruptedError,
)
from ._files import FileInput, PreparedFile, prepare_file
from ._protocol import check_json_serialisable, tool_output_request
from ._reply import Reply, ReplyBuilder
from ._sse import DEFAULT_MAX_EVENT_SIZE, SSEDecoder
from ._transport import RequestSpec
from .types import (
    Attachment,
    ChatSession,
    ClientToolCallItem,
    ErrorEvent,
    Thread,
    ThreadItem,
    ThreadStreamEvent,
    UserMessageItem,
    parse_event,
    parse_item,
)
from .types._base import describe_validation_error

__all__ = [
    "ChatState",
    "EventDecoder",
    "SessionState",
    "ToolHandler",
    "TurnDriver",
    "check_attachment_ids",
    "check_hosted_uploads",
    "check_stream_content_type",
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

# A renewal happens when less than this much of the session remains (or a tenth of its lifetime, if shorter).
RENEW_MARGIN_SECONDS = 30.0


class SessionState:
    """The hosted session behind a Chat: which secret to send and whether it is time to renew.

    With `params` the Chat creates sessions itself and renews them; with only a client secret the
    secret is used as given (nothing to renew it with).
    """

    def __init__(
        self,
        *,
        params: Mapping[str, Any] | None = None,
        session: ChatSession | None = None,
        client_secret: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.params = dict(params) if params is not None else None
        self.session = session
        self.fixed_secret = client_secret
        self.clock = clock
        self.obtained_at = clock()
        self.renewals = 0

    @property
    def can_renew(self) -> bool:
        return self.params is not None

    def secret(self) -> str:
        if self.session is not None:
            return self.session.client_secret
        assert self.fixed_secret is not None
        return self.fixed_secret

    def needs_session(self) -> bool:
        """True when a session must be created (none yet) or renewed (about to expire) before the next request."""
        if not self.can_renew:
            return False
        if self.session is None:
            return True
        now = self.clock()
        remaining = self.session.expires_at - now
        lifetime = max(self.session.expires_at - self.obtained_at, 0.0)
        return remaining < min(RENEW_MARGIN_SECONDS, lifetime / 10.0)

    def install(self, session: ChatSession) -> None:
        if self.session is not None:
            self.renewals += 1
        self.session = session
        self.obtained_at = self.clock()

    def is_current(self, secret: str) -> bool:
        """Whether `secret` is still the one in use (so a 401 on it calls for a renewal)."""
        return self.session is not None and self.session.client_secret == secret


ToolRound: TypeAlias = tuple[ClientToolCallItem, ToolHandler]


@dataclass
class ChatState:
    """The conversation a Chat continues: thread, last user message, client tools."""

    thread_id: str | None = None
    last_user_item_id: str | None = None
    tools: dict[str, ToolHandler] = field(default_factory=dict)

    def register_tool(self, name: str, handler: ToolHandler) -> None:
        if not isinstance(name, str) or not name:
            raise InvalidInputError("client_tools", f"tool names must be non-empty strings, got {name!r}")
        if not callable(handler):
            raise InvalidInputError(f"client_tools[{name!r}]", "must be a callable taking the arguments dict")
        self.tools[name] = handler

    def observe(self, reply: Reply) -> None:
        """Take the thread id and the user message from a turn, finished or not."""
        if reply.thread_id:
            self.thread_id = reply.thread_id
        if reply.user_message is not None:
            self.last_user_item_id = reply.user_message.id

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


class EventDecoder:
    """Decodes a conversation stream's bytes into typed events and applies each to the turn's Reply."""

    def __init__(self, builder: ReplyBuilder, *, max_event_size: int | None = DEFAULT_MAX_EVENT_SIZE) -> None:
        self.builder = builder
        self._sse = SSEDecoder(max_event_size=max_event_size)
        self.error: ErrorEvent | None = None

    def _apply(self, payloads: list[str]) -> list[ThreadStreamEvent]:
        events: list[ThreadStreamEvent] = []
        for data in payloads:
            try:
                event = parse_event(data)
            except StreamDecodeError as err:
                err.reply = self.builder.reply()
                raise
            self.builder.apply(event)
            if isinstance(event, ErrorEvent) and self.error is None:
                self.error = event
            events.append(event)
        return events

    def feed(self, chunk: bytes) -> list[ThreadStreamEvent]:
        try:
            payloads = self._sse.feed(chunk)
        except StreamDecodeError as err:
            err.reply = self.builder.reply()
            raise
        return self._apply(payloads) if payloads else []

    def finish(self) -> list[ThreadStreamEvent]:
        return self._apply(self._sse.flush())


def check_stream_content_type(content_type: str) -> None:
    """A streaming request must be answered with SSE; anything else is a server or proxy problem."""
    if content_type == "text/event-stream":
        return
    shown = content_type or "no content type"
    raise APIResponseValidationError(
        f"expected a text/event-stream answer to a streaming request, got {shown}; "
        "check that the URL points at a ChatKit endpoint",
    )


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


def parse_thread(body: object) -> Thread:
    if not isinstance(body, Mapping):
        raise APIResponseValidationError(f"expected a thread object, got {type(body).__name__}", body=body)
    try:
        return Thread.model_validate(body)
    except ValidationError as err:
        raise APIResponseValidationError(
            f"the thread in the response is malformed: {describe_validation_error(err)}", body=body
        ) from err


def parse_updated_item(body: object) -> ThreadItem | None:
    """The `updated_item` of a `threads.sync_custom_action` answer."""
    if not isinstance(body, Mapping):
        raise APIResponseValidationError(f"expected a sync action result object, got {type(body).__name__}", body=body)
    item = body.get("updated_item")
    return None if item is None else parse_item(item)


def parse_attachment(body: object) -> Attachment:
    if not isinstance(body, Mapping):
        raise APIResponseValidationError(f"expected an attachment object, got {type(body).__name__}", body=body)
    try:
        return Attachment.model_validate(body)
    except ValidationError as err:
        raise APIResponseValidationError(
            f"the attachment in the response is malformed: {describe_validation_error(err)}", body=body
        ) from err


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
    for item in items_newest_first:
        if isinstance(item, UserMessageItem):
            return item.id
    return None


_PartialError = TypeVar("_PartialError", StreamInterruptedError, StreamDecodeError)


class TurnDriver:
    """One turn, from the first request to the last tool round, without I/O.

    The shells open each request, feed the body's chunks here, run tool handlers (sync or async) and
    send what this asks for next; events, Reply assembly, error events and thread bookkeeping live here.
    """

    def __init__(
        self, state: ChatState, *, keep_events: bool = False, max_event_size: int | None = DEFAULT_MAX_EVENT_SIZE
    ) -> None:
        self.state = state
        self.builder = ReplyBuilder(keep_events=keep_events)
        self.answered: set[str] = set()
        self.max_event_size = max_event_size
        self.decoder = EventDecoder(self.builder, max_event_size=max_event_size)
        self.failure: BaseException | None = None

    def begin_round(self, content_type: str) -> None:
        check_stream_content_type(content_type)
        self.decoder = EventDecoder(self.builder, max_event_size=self.max_event_size)

    def feed(self, chunk: bytes) -> list[ThreadStreamEvent]:
        try:
            return self.decoder.feed(chunk)
        except StreamDecodeError as err:
            raise self._fail(err) from None

    def end_round(self) -> list[ThreadStreamEvent]:
        try:
            return self.decoder.finish()
        except StreamDecodeError as err:
            raise self._fail(err) from None

    def interrupted(self, err: BaseException) -> StreamInterruptedError:
        reply = self.reply()
        return self._fail(
            StreamInterruptedError(
                f"the connection broke mid-stream ({err}); the {len(reply.items)} items received so far are in .reply",
                reply=reply,
            )
        )

    def _fail(self, err: _PartialError) -> _PartialError:
        self.state.observe(err.reply or self.reply())
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
