"""A byte-level decoder for Server-Sent Events (SSE), the framing of ChatKit's conversation stream.

It follows the WHATWG event-stream rules
(https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation):
LF, CR and CRLF line ends, `:` comments, multi-line `data:` joined with "\\n", one leading BOM ignored,
and UTF-8 decoded incrementally with invalid bytes replaced by U+FFFD. `event:`, `id:` and `retry:` are
accepted and ignored, because ChatKit sends only `data: <json>` events and carries the type in the JSON.

The decoder is pure (no I/O). It is the hot path of a turn (tens of thousands of small events), so the
common case (LF line ends, `data: ` events) is handled a whole event at a time with C-level string methods;
only events with other lines go through the line-by-line rules.

Imports: stdlib, _exceptions.
"""

from __future__ import annotations

import codecs

from .._exceptions import InvalidInputError, StreamDecodeError

__all__ = ["DEFAULT_MAX_EVENT_SIZE", "SSEDecoder"]

DEFAULT_MAX_EVENT_SIZE: int = 64 * 1024 * 1024
"""The default limit, in bytes, on one event's text (its lines, without the blank line that ends it)."""

_utf8_decode = codecs.utf_8_decode
# How much of an oversized event StreamDecodeError keeps in `data`, so the error stays printable.
_ERROR_EXCERPT = 200
_NO_LIMIT = 1 << 62


class SSEDecoder:
    """Turns the bytes of an event stream into the `data` payloads of its events.

    Feed it the body's chunks as they arrive, however they are cut; each call returns the payloads of the
    events that chunk completed. Call `flush()` once the body has ended cleanly.

    ```python
    decoder = SSEDecoder()
    payloads = decoder.feed(b'data: {"type": "thread.created"}\\n\\ndata: {"ty')
    # payloads == ['{"type": "thread.created"}']
    payloads += decoder.feed(b'pe": "progress_update"}\\n\\n')
    payloads += decoder.flush()
    ```

    `max_event_size` bounds the bytes one event may hold (None: no limit), so a server that never ends
    an event cannot exhaust memory. Exceeding it raises `StreamDecodeError`; the decoder is then spent.
    """

    def __init__(self, *, max_event_size: int | None = DEFAULT_MAX_EVENT_SIZE) -> None:
        if max_event_size is not None and (
            isinstance(max_event_size, bool) or not isinstance(max_event_size, int) or max_event_size < 1
        ):
            raise InvalidInputError("max_event_size", "must be a positive number of bytes or None")
        self._max_event_size = max_event_size
        # Plain ints, so the hot path compares without asking whether there is a limit at all.
        self._limit = _NO_LIMIT if max_event_size is None else max_event_size
        # An event of n characters holds at most 4n bytes, so events shorter than this need no byte count.
        self._unchecked_chars = self._limit // 4
        self._reset()

    def _reset(self) -> None:
        self._undecoded = b""  # the start of a multibyte character cut by the chunk boundary
        self._at_start = True  # no text decoded yet, so a BOM may still come
        self._skip_lf = False  # the previous text ended in CR: an LF that starts the next one is its CRLF
        # The incomplete event: its text as pieces, joined once the event ends, so that an event arriving in
        # many small chunks costs linear work rather than a re-scan of a growing prefix per chunk.
        self._parts: list[str] = []
        self._tail_bytes = 0

    @property
    def buffered_bytes(self) -> int:
        """The size in bytes of what is held for an incomplete event (after line-end normalisation)."""
        return self._tail_bytes + len(self._undecoded)

    def feed(self, chunk: bytes) -> list[str]:
        """The `data` of every event this chunk completes, in order; events without `data` are skipped."""
        if self._undecoded:
            chunk = self._undecoded + chunk
        text, used = _utf8_decode(chunk, "replace", False)
        self._undecoded = chunk[used:] if used < len(chunk) else b""
        payloads: list[str] = []
        if self._at_start or self._skip_lf:
            text = self._strip_start(text)
        if not text:
            return payloads
        if "\r" in text:
            # After this, "\n" is the only line end. A CR at the very end already ends its line; the LF
            # that may follow in the next chunk belongs to it.
            self._skip_lf = text[-1] == "\r"
            text = text.replace("\r\n", "\n").replace("\r", "\n")

        parts = self._parts
        if parts and text[0] == "\n" and parts[-1][-1] == "\n":
            # The blank line that ends the pending event was cut by the chunk boundary.
            self._parse_event("".join(parts)[:-1], payloads)
            parts.clear()
            self._tail_bytes = 0
            text = text[1:]
            if not text:
                return payloads

        end = text.rfind("\n\n")
        if end < 0:
            self._hold(text)
            return payloads

        # ChatKit's only shape, checked for the whole chunk at once: every complete event is one `data: `
        # line, so the only newlines are the blank lines between events. Then one C-level split gives the
        # payloads, with no Python step per event.
        done = "".join(parts) + text[:end] if parts else text[:end]
        found = done.split("\n\ndata: ") if done.startswith("data: ") else None
        if found is not None and done.count("\n") == 2 * len(found) - 2 and len(done) <= self._unchecked_chars:
            found[0] = found[0][6:]
            parts.clear()
            self._tail_bytes = 0
            if payloads:  # the event whose blank line the chunk boundary cut
                found[:0] = payloads
            tail = text[end + 2 :]
            if tail:
                self._hold(tail)
            return found

        events = text.split("\n\n")
        tail = events.pop()
        if parts:
            parts.append(events[0])
            events[0] = "".join(parts)
            parts.clear()
            self._tail_bytes = 0
        unchecked = self._unchecked_chars
        for event in events:
            if len(event) > unchecked:
                self._check_size(event, _byte_len(event))
            if event.startswith("data: ") and "\n" not in event:
                payloads.append(event[6:])  # ChatKit's only shape: one `data: <json>` line
            elif event:
                self._parse_event(event, payloads)
        if tail:
            self._hold(tail)
        return payloads

    def flush(self) -> list[str]:
        """Ends the stream: returns what `feed` has not, including an event cut short of its blank line.

        The spec drops such an event; we keep it when it has `data` (httpx2's `EventSource` and openai's
        decoder drop it), since a server that closes right after its last line has still sent it whole.
        The decoder is reset and can decode a new stream.
        """
        # What is left is the start of a character the stream cut short: as U+FFFD, re-encoded, it is
        # valid UTF-8 that feed() passes through.
        rest, _ = _utf8_decode(self._undecoded, "replace", True)
        self._undecoded = b""
        payloads = self.feed(rest.encode())
        if self._parts:
            self._parse_event("".join(self._parts), payloads)
        self._reset()
        return payloads

    def _strip_start(self, text: str) -> str:
        if not text:
            return text  # not even a whole character yet: what is pending stays pending
        if self._at_start:
            self._at_start = False
            if text[0] == "\ufeff":
                text = text[1:]
        if self._skip_lf and text:
            self._skip_lf = False
            if text[0] == "\n":
                text = text[1:]
        return text

    def _hold(self, text: str) -> None:
        self._parts.append(text)
        self._tail_bytes += _byte_len(text)
        # A final "\n" may be half of the blank line that ends the event, which is not part of its size.
        if self._tail_bytes > self._limit:
            self._check_size("".join(self._parts), self._tail_bytes - (text[-1] == "\n"))

    def _check_size(self, event: str, size: int) -> None:
        limit = self._max_event_size
        if limit is not None and size > limit:
            raise StreamDecodeError(
                f"a server-sent event exceeded the max_event_size limit of {limit} bytes; "
                "raise max_event_size, or set it to None for no limit",
                data=event[:_ERROR_EXCERPT],
            )

    @staticmethod
    def _parse_event(event: str, payloads: list[str]) -> None:
        # The general line rules, for an event text (lines joined by "\n") that the fast path did not take.
        # Blank lines inside it cannot occur after a split on "\n\n", except leading ones.
        data: list[str] = []
        for line in event.split("\n"):
            if not line:
                if data:
                    payloads.append("\n".join(data))
                    data = []
                continue
            if line[0] == ":":
                continue
            name, _, value = line.partition(":")
            if name == "data":
                data.append(value[1:] if value[:1] == " " else value)
            # `event`, `id`, `retry` and unknown fields carry nothing ChatKit uses.
        if data:
            payloads.append("\n".join(data))


def _byte_len(text: str) -> int:
    # isascii() is O(1) on CPython strings, so the usual JSON text costs no encoding.
    return len(text) if text.isascii() else len(text.encode())
