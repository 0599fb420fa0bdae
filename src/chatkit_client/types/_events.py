"""Conversation stream events and `parse_event`, which decodes one SSE `data:` payload."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Discriminator, Field, Tag, ValidationError

from .._exceptions import StreamDecodeError
from ._base import MAX_NESTING_DEPTH, ChatKitModel, describe_validation_error
from ._items import ThreadItem
from ._threads import Thread
from ._updates import ThreadItemUpdate

__all__ = [
    "ClientEffectEvent",
    "ErrorEvent",
    "NoticeEvent",
    "ProgressUpdateEvent",
    "StreamOptions",
    "StreamOptionsEvent",
    "ThreadCreatedEvent",
    "ThreadItemAddedEvent",
    "ThreadItemDoneEvent",
    "ThreadItemRemovedEvent",
    "ThreadItemReplacedEvent",
    "ThreadItemUpdatedEvent",
    "ThreadStreamEvent",
    "ThreadUpdatedEvent",
    "UnknownEvent",
    "parse_event",
]


class ThreadCreatedEvent(ChatKitModel):
    """The server created the thread this turn runs in (first turn only)."""

    type: Literal["thread.created"] = "thread.created"
    thread: Thread


class ThreadUpdatedEvent(ChatKitModel):
    """The thread's metadata changed, typically its automatic title."""

    type: Literal["thread.updated"] = "thread.updated"
    thread: Thread


class ThreadItemAddedEvent(ChatKitModel):
    """A new item starts; updates for it follow, keyed by its id."""

    type: Literal["thread.item.added"] = "thread.item.added"
    item: ThreadItem


class ThreadItemUpdatedEvent(ChatKitModel):
    """An incremental change (such as a text delta) to the item `item_id`."""

    type: Literal["thread.item.updated"] = "thread.item.updated"
    item_id: str
    update: ThreadItemUpdate


class ThreadItemDoneEvent(ChatKitModel):
    """The item is complete; `item` is its final state."""

    type: Literal["thread.item.done"] = "thread.item.done"
    item: ThreadItem


class ThreadItemRemovedEvent(ChatKitModel):
    type: Literal["thread.item.removed"] = "thread.item.removed"
    item_id: str


class ThreadItemReplacedEvent(ChatKitModel):
    """The item with `item.id` is replaced by `item`."""

    type: Literal["thread.item.replaced"] = "thread.item.replaced"
    item: ThreadItem


class ProgressUpdateEvent(ChatKitModel):
    """A transient status line, such as "Searching the web"."""

    type: Literal["progress_update"] = "progress_update"
    text: str = ""
    icon: str | None = None


class NoticeEvent(ChatKitModel):
    """A message for the user that is not part of the thread (markdown)."""

    type: Literal["notice"] = "notice"
    level: str = "info"
    """`"info"`, `"warning"` or `"danger"`."""
    message: str = ""
    title: str | None = None


class ErrorEvent(ChatKitModel):
    """The server failed the turn; `allow_retry` says whether retrying may help."""

    type: Literal["error"] = "error"
    code: str = "custom"
    """`"stream.error"`, `"custom"`, ...: an open set."""
    message: str | None = None
    allow_retry: bool = False


class StreamOptions(ChatKitModel):
    allow_cancel: bool = False


class StreamOptionsEvent(ChatKitModel):
    type: Literal["stream_options"] = "stream_options"
    stream_options: StreamOptions = Field(default_factory=StreamOptions)


def _current_effect_name(value: Any) -> Any:
    # chatkit-python called this event `client_side_effect` for a few days in Nov 2025.
    return "client_effect" if value == "client_side_effect" else value


class ClientEffectEvent(ChatKitModel):
    """The server asks the client to do something outside the thread (e.g. refresh a view)."""

    type: Annotated[Literal["client_effect"], BeforeValidator(_current_effect_name)] = "client_effect"
    name: str
    data: dict[str, Any] = Field(default_factory=dict)


class UnknownEvent(ChatKitModel):
    """An event of a type this library does not know; every field is kept as sent."""

    type: str


_EVENT_CLASSES: dict[str, type[ChatKitModel]] = {
    "thread.created": ThreadCreatedEvent,
    "thread.updated": ThreadUpdatedEvent,
    "thread.item.added": ThreadItemAddedEvent,
    "thread.item.updated": ThreadItemUpdatedEvent,
    "thread.item.done": ThreadItemDoneEvent,
    "thread.item.removed": ThreadItemRemovedEvent,
    "thread.item.replaced": ThreadItemReplacedEvent,
    "progress_update": ProgressUpdateEvent,
    "notice": NoticeEvent,
    "error": ErrorEvent,
    "stream_options": StreamOptionsEvent,
    "client_effect": ClientEffectEvent,
    "client_side_effect": ClientEffectEvent,
}


def _event_tag(value: Any) -> str | None:
    kind = value.get("type") if isinstance(value, Mapping) else getattr(value, "type", None)
    if not isinstance(kind, str):
        return None
    kind = _current_effect_name(kind)
    return kind if kind in _EVENT_CLASSES else "unknown"


ThreadStreamEvent = Annotated[
    Annotated[ThreadCreatedEvent, Tag("thread.created")]
    | Annotated[ThreadUpdatedEvent, Tag("thread.updated")]
    | Annotated[ThreadItemAddedEvent, Tag("thread.item.added")]
    | Annotated[ThreadItemUpdatedEvent, Tag("thread.item.updated")]
    | Annotated[ThreadItemDoneEvent, Tag("thread.item.done")]
    | Annotated[ThreadItemRemovedEvent, Tag("thread.item.removed")]
    | Annotated[ThreadItemReplacedEvent, Tag("thread.item.replaced")]
    | Annotated[ProgressUpdateEvent, Tag("progress_update")]
    | Annotated[NoticeEvent, Tag("notice")]
    | Annotated[ErrorEvent, Tag("error")]
    | Annotated[StreamOptionsEvent, Tag("stream_options")]
    | Annotated[ClientEffectEvent, Tag("client_effect")]
    | Annotated[UnknownEvent, Tag("unknown")],
    Discriminator(_event_tag),
]
"""Any conversation stream event, chosen by its `type`; unknown types give `UnknownEvent`."""


_DELTA_KIND: Literal["assistant_message.content_part.text_delta"] = "assistant_message.content_part.text_delta"
_PREFIX = '{"type":"'
_PREFIX_BYTES = _PREFIX.encode()
_TAG_START = len(_PREFIX)
_MAX_DATA = 500

MAX_EVENT_DEPTH = MAX_NESTING_DEPTH
"""How deeply objects and arrays may nest in one stream event (`MAX_NESTING_DEPTH`, 128); a deeper event is
refused with a `StreamDecodeError`."""
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKET = re.compile(r"[\[\]{}]")


def check_depth(data: str | bytes) -> None:
    """Refuse (`StreamDecodeError`) an event whose objects and arrays nest deeper than `MAX_EVENT_DEPTH`."""
    # Nesting cannot exceed the number of openers, counted at C speed: almost every event stops here.
    if isinstance(data, bytes):
        if data.count(b"{") + data.count(b"[") <= MAX_EVENT_DEPTH:
            return
        text = data.decode("utf-8", "replace")
    else:
        if data.count("{") + data.count("[") <= MAX_EVENT_DEPTH:
            return
        text = data
    depth = 0
    for match in _BRACKET.finditer(_JSON_STRING.sub('""', text)):
        if match.group() in "{[":
            depth += 1
            if depth > MAX_EVENT_DEPTH:
                raise _decode_error(
                    f"a stream event nests objects and arrays more than {MAX_EVENT_DEPTH} levels deep "
                    "(MAX_EVENT_DEPTH); real widgets nest far less, and so deep a tree could not be serialised "
                    "again, so the event was refused",
                    data,
                )
        else:
            depth -= 1


# The stream's most frequent event exactly as servers serialise it: compact, `type` first, no escapes in the
# two strings (raw control characters are invalid JSON, so they are excluded too). Such a text nests nothing
# (no depth to check), and its fields can be read without building models (`send()`, `text_deltas()`).
PLAIN_TEXT_DELTA = re.compile(
    r'\{"type":"thread\.item\.updated","item_id":"([^"\\\x00-\x1f]*)",'
    r'"update":\{"type":"assistant_message\.content_part\.text_delta",'
    r'"content_index":(0|[1-9][0-9]{0,17}),"delta":"([^"\\\x00-\x1f]*)"\}\}'
)


def updated_event_parser() -> Callable[[str], ThreadItemUpdatedEvent]:
    """`ThreadItemUpdatedEvent.model_validate_json` without its wrapper: the model's own validator.

    It gives exactly what `model_validate_json` gives (that method calls it, with keyword arguments that
    cost as much as a small event's validation), and raises `ValueError` (pydantic's `ValidationError`)
    for a text that is not such an event. Nesting is the caller's to check (`MAX_EVENT_DEPTH`), as
    `parse_event` does. The schema is built on the first call.
    """
    return _updated_event_parser()


@functools.cache
def _updated_event_parser() -> Callable[[str], ThreadItemUpdatedEvent]:
    ThreadItemUpdatedEvent.model_rebuild()
    parse: Callable[[str], ThreadItemUpdatedEvent] = ThreadItemUpdatedEvent.__pydantic_validator__.validate_json
    return parse


def parse_event(data: str | bytes) -> ThreadStreamEvent:
    """Decode one SSE `data:` payload of a conversation stream into its event model.

    Unknown event types give `UnknownEvent` (the protocol grows; old clients must keep working).
    Anything that is not a JSON object with a string `type`, or a known event with malformed fields,
    raises `StreamDecodeError` with the raw text (shortened) in `.data`.

    ```python
    event = parse_event('{"type":"progress_update","text":"Searching"}')
    assert isinstance(event, ProgressUpdateEvent)
    ```
    """
    if isinstance(data, str) and PLAIN_TEXT_DELTA.fullmatch(data) is not None:
        return _updated_event_parser()(data)  # no nesting to check
    check_depth(data)
    # Fast path. Servers serialise models with `type` first, so the tag can be read off the front of
    # the text and pydantic can validate straight from JSON into the one right class; that skips both
    # building an intermediate dict and trying a union. The model's validator is called directly:
    # `model_validate_json` adds keyword arguments that cost as much as validating a small event.
    if isinstance(data, str):
        if data.startswith(_PREFIX):
            end = data.find('"', _TAG_START)
            cls = _EVENT_CLASSES.get(data[_TAG_START:end]) if end > 0 else None
            if cls is not None:
                try:
                    return cls.__pydantic_validator__.validate_json(data)  # type: ignore[no-any-return]
                except Exception:
                    pass  # the careful path below reports the error, or copes with the oddity
    elif data.startswith(_PREFIX_BYTES):
        end = data.find(b'"', _TAG_START)
        cls = _EVENT_CLASSES.get(data[_TAG_START:end].decode("ascii", "replace")) if end > 0 else None
        if cls is not None:
            try:
                return cls.__pydantic_validator__.validate_json(data)  # type: ignore[no-any-return]
            except Exception:
                pass
    return _parse_event_carefully(data)


def _parse_event_carefully(data: str | bytes) -> ThreadStreamEvent:
    try:
        obj = json.loads(data)
    except (ValueError, RecursionError) as error:
        raise _decode_error(f"a stream event is not valid JSON ({error})", data) from error
    if not isinstance(obj, dict):
        raise _decode_error(f"a stream event is a JSON {_json_kind(obj)}, not an object with a 'type' field", data)
    kind = obj.get("type")
    if not isinstance(kind, str):
        raise _decode_error("a stream event has no string 'type' field", data)
    cls = _EVENT_CLASSES.get(kind, UnknownEvent)
    try:
        return cls.model_validate(obj)  # type: ignore[return-value]
    except ValidationError as error:
        raise _decode_error(
            f"a {kind!r} stream event does not have the expected shape: {describe_validation_error(error)}",
            data,
        ) from error
    except Exception as error:  # a bug in a validator must still surface as a decode error
        raise _decode_error(f"a {kind!r} stream event could not be decoded: {error!r}", data) from error


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return "array" if isinstance(value, list) else "string"


def _decode_error(message: str, data: str | bytes) -> StreamDecodeError:
    text = data if isinstance(data, str) else data.decode("utf-8", "replace")
    if len(text) > _MAX_DATA:
        text = text[:_MAX_DATA] + "..."
    return StreamDecodeError(message, data=text)
