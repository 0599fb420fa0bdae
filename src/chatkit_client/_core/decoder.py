"""A conversation stream's bytes in, typed events out, each applied to the turn's `ReplyBuilder`.

Imports: stdlib, pydantic_core, types, _exceptions, and core: reply, sse.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pydantic_core import from_json

from .._exceptions import (
    APIResponseValidationError,
    StreamDecodeError,
)
from ..types import (
    AssistantMessageContentPartTextDelta,
    ErrorEvent,
    StreamOptionsEvent,
    ThreadStreamEvent,
    parse_event,
)
from ..types._events import PLAIN_TEXT_DELTA, check_depth, updated_event_parser
from .reply import ReplyBuilder
from .sse import DEFAULT_MAX_EVENT_SIZE, SSEDecoder

__all__ = ["EventDecoder", "check_stream_content_type"]

# A text delta as servers serialise it (`type` first, no spaces): read from a plain dict and applied without a
# model when nobody looks at the event (`send()`, `text_deltas()`). Anything else takes the typed path.
_DELTA_HEAD = '{"type":"thread.item.updated",'
_DELTA_KIND = "assistant_message.content_part.text_delta"
_DELTA_TYPE = f'"{_DELTA_KIND}"'
_UPDATED_HEAD = '{"type":"thread.item.updated"'
_BATCH = 4  # payloads from which `apply_quietly` matches a chunk at once
# The same plain text delta as `PLAIN_TEXT_DELTA`, or any other line (then with empty groups), one match per
# line of a batch of payloads joined by newlines.
_PLAIN_LINES = re.compile(f"^(?:{PLAIN_TEXT_DELTA.pattern}|.*)$", re.MULTILINE)


class EventDecoder:
    """Decodes a conversation stream's bytes into typed events and applies each to the turn's Reply.

    `feed`/`finish` return the typed events of a chunk. The stream shells use the finer steps instead:
    `payloads` (SSE only), then `event` for one payload when someone iterates events, or `apply_quietly`
    for a batch nobody looks at, which applies plain text deltas to the builder without building models.
    Both keep every check of the typed path (sizes, depth, limits, error events).

    A `StreamDecodeError` carries the reply so far; `on_error`, when given, is called with it and returns
    the exception raised instead (the turn driver records the failure there, without a call per event).
    """

    def __init__(
        self,
        builder: ReplyBuilder,
        *,
        max_event_size: int | None = DEFAULT_MAX_EVENT_SIZE,
        on_error: Callable[[StreamDecodeError], BaseException] | None = None,
    ) -> None:
        self.builder = builder
        self._sse = SSEDecoder(max_event_size=max_event_size)
        self.error: ErrorEvent | None = None
        self.allow_cancel: bool | None = None
        self.events = 0
        self.bytes = 0
        self._on_error = on_error
        self._parse_updated = updated_event_parser()
        self._quiet_deltas = not builder.keeps_events

    def _failed(self, err: StreamDecodeError) -> BaseException:
        """What to raise for `err`: itself with the reply so far, or what the driver's `on_error` makes of it."""
        err.reply = self.builder.reply()
        return err if self._on_error is None else self._on_error(err)

    def event(self, data: str) -> ThreadStreamEvent:
        """Parse one payload, apply it to the Reply and return its typed event."""
        if data.startswith(_UPDATED_HEAD):
            # The most frequent event: one C call into its models (what `parse_event` would give, see
            # `updated_event_parser`); a text it refuses takes the general path below, for its error.
            try:
                updated = self._parse_updated(data)
            except Exception:  # as in `parse_event`: the general path reports it, or copes
                pass
            else:
                update: Any = updated.update
                try:
                    if self._quiet_deltas and type(update) is AssistantMessageContentPartTextDelta and not (
                        updated.__pydantic_extra__ or update.__pydantic_extra__
                    ):
                        # Every field a plain str or int: nothing nests, nothing else to apply.
                        self.builder.apply_text_delta(updated.item_id, update.content_index, update.delta)
                    else:
                        check_depth(data)
                        self.builder.apply(updated)
                except StreamDecodeError as err:
                    raise self._failed(err) from None
                self.events += 1
                return updated
        try:
            event = parse_event(data)
            # The builder refuses, with the same error, an event that would break one of its limits.
            self.builder.apply(event)
        except StreamDecodeError as err:
            raise self._failed(err) from None
        self.events += 1
        if isinstance(event, ErrorEvent):
            if self.error is None:
                self.error = event
        elif isinstance(event, StreamOptionsEvent):
            self.allow_cancel = event.stream_options.allow_cancel
        return event

    def text_or_event(self, data: str) -> str | ThreadStreamEvent:
        """Apply one payload: a plain text delta gives its text (no model made), anything else its event."""
        builder = self.builder
        if not builder.keeps_events:
            found = PLAIN_TEXT_DELTA.fullmatch(data)
            if found is not None:
                item_id, index, delta = found.groups()
                try:
                    builder.apply_text_delta(item_id, int(index), delta)
                except StreamDecodeError as err:
                    err.reply = builder.reply()
                    raise
                self.events += 1
                return delta
            if data.startswith(_DELTA_HEAD) and _DELTA_TYPE in data:
                escaped = self._plain_delta(data)
                if escaped is not None:
                    return escaped
        return self.event(data)

    def delta_text(self, data: str) -> str | None:
        """Apply one payload: the text of a text delta (of any shape), None for any other event.

        What `text_deltas()` yields, without a model for a plain delta.
        """
        if self._quiet_deltas:
            found = PLAIN_TEXT_DELTA.fullmatch(data)
            if found is not None:
                item_id, index, delta = found.groups()
                try:
                    self.builder.apply_text_delta(item_id, int(index), delta)
                except StreamDecodeError as err:
                    raise self._failed(err) from None
                self.events += 1
                return delta
        try:
            event = self.text_or_event(data)
        except StreamDecodeError as err:
            if self._on_error is None:
                raise
            raise self._failed(err) from None
        if type(event) is str:
            return event
        update = getattr(event, "update", None)
        return update.delta if isinstance(update, AssistantMessageContentPartTextDelta) else None

    def apply_quietly(self, payloads: list[str]) -> None:
        """Apply payloads nobody will see as events; text deltas cost a regular expression, not a model."""
        if self.builder.keeps_events:
            for data in payloads:
                self.event(data)
            return
        count = len(payloads)
        # One C-level match over a batch, one tuple per payload (`index` empty: not a plain delta), unless a
        # payload holds a newline (then lines and payloads differ) or the batch is too small to gain from it
        # (a chunked body often brings one event per chunk): then one at a time below.
        found = None
        if count >= _BATCH:
            lines = "\n".join(payloads)
            if lines.count("\n") == count - 1:
                found = _PLAIN_LINES.findall(lines)
        try:
            if found is not None and len(found) == count:
                item_ids, indexes, deltas = zip(*found, strict=True)
                if "" not in indexes and item_ids.count(item_ids[0]) == count and indexes.count(indexes[0]) == count:
                    # The usual chunk: text deltas to one part, applied at once.
                    self.builder.apply_text_deltas(item_ids[0], int(indexes[0]), deltas)
                    self.events += count
                    return
                apply = self.builder.apply_text_delta
                for data, (item_id, index, delta) in zip(payloads, found, strict=True):
                    if index:
                        apply(item_id, int(index), delta)
                        self.events += 1
                    else:
                        self._apply_one_quietly(data)
                return
            plain, apply = PLAIN_TEXT_DELTA.fullmatch, self.builder.apply_text_delta
            for data in payloads:
                match = plain(data)
                if match is not None:
                    item_id, index, delta = match.groups()
                    apply(item_id, int(index), delta)
                    self.events += 1
                else:
                    self._apply_one_quietly(data)
        except StreamDecodeError as err:
            if err.reply is None:
                err.reply = self.builder.reply()
            raise

    def _apply_one_quietly(self, data: str) -> None:
        # Not a plain delta: an escaped one still needs no model; anything else is an event.
        if not (data.startswith(_DELTA_HEAD) and _DELTA_TYPE in data and self._plain_delta(data) is not None):
            self.event(data)

    def _plain_delta(self, data: str) -> str | None:
        """Apply `data` when it is exactly a text delta (no other field); None (nothing applied) otherwise."""
        found = PLAIN_TEXT_DELTA.fullmatch(data)
        if found is not None:
            item_id, index_text, delta = found.groups()
            index = int(index_text)
        else:
            # The same, with escapes in its strings (newlines, quotes): a dict, still no model.
            try:
                obj = from_json(data)
            except ValueError:
                return None  # the typed path reports it
            # Exactly the three fields of each level, of exactly these types: no nesting, so no depth check
            # is needed, and nothing a model would keep (extra fields) or coerce (a float index) is lost.
            if type(obj) is not dict or len(obj) != 3 or obj.get("type") != "thread.item.updated":
                return None
            update, item_id = obj.get("update"), obj.get("item_id")
            if type(update) is not dict or type(item_id) is not str or len(update) != 3:
                return None
            raw_index, delta = update.get("content_index"), update.get("delta")
            if type(raw_index) is not int or type(delta) is not str or update.get("type") != _DELTA_KIND:
                return None
            index = raw_index
        try:
            self.builder.apply_text_delta(item_id, index, delta)
        except StreamDecodeError as err:
            err.reply = self.builder.reply()
            raise
        self.events += 1
        return delta

    def payloads(self, chunk: bytes) -> list[str]:
        """The `data` of the events this chunk completes (SSE only; nothing applied yet)."""
        self.bytes += len(chunk)
        try:
            return self._sse.feed(chunk)
        except StreamDecodeError as err:
            err.reply = self.builder.reply()
            raise

    def final_payloads(self) -> list[str]:
        """The `data` of an event the body's end completes."""
        return self._sse.flush()

    def feed(self, chunk: bytes) -> list[ThreadStreamEvent]:
        payloads = self.payloads(chunk)
        return [self.event(data) for data in payloads] if payloads else []

    def finish(self) -> list[ThreadStreamEvent]:
        return [self.event(data) for data in self.final_payloads()]


def check_stream_content_type(content_type: str) -> None:
    """A streaming request must be answered with SSE; anything else is a server or proxy problem."""
    if content_type == "text/event-stream":
        return
    shown = content_type or "no content type"
    raise APIResponseValidationError(
        f"expected a text/event-stream answer to a streaming request, got {shown}; "
        "check that the URL points at a ChatKit endpoint",
    )

