"""Reading a conversation stream twice: strictly, for the framing case, and leniently, for all the others.

Pure: bytes in, events and problems out. The strict reading is the library's own SSE decoder; the lenient
one also recovers events from a body whose framing is broken (each `data:` line read on its own), so that
a framing fault is reported by the framing case alone and the other cases still judge the events.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .._core.sse import SSEDecoder
from .._exceptions import StreamDecodeError

__all__ = ["ItemTrack", "ParsedStream", "find_actions", "item_kind", "item_text", "parse_stream", "walk_items"]


@dataclass
class ParsedStream:
    events: list[dict[str, Any]] = field(default_factory=list)
    framing_problems: list[str] = field(default_factory=list)


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def parse_stream(content: bytes) -> ParsedStream:
    """The events of an SSE body, and what is wrong with its framing (empty when it is right)."""
    parsed = ParsedStream()
    decoder = SSEDecoder(max_event_size=None)
    try:
        payloads = decoder.feed(content) + decoder.flush()
    except StreamDecodeError as err:  # pragma: no cover - only with a size limit
        payloads = []
        parsed.framing_problems.append(str(err))
    strict: list[dict[str, Any]] = []
    for index, payload in enumerate(payloads):
        obj = _json_object(payload)
        if obj is None:
            shown = payload[:80].replace("\n", "\\n")
            parsed.framing_problems.append(f"event {index + 1} is not one JSON object: {shown!r}")
        else:
            strict.append(obj)
    stripped = content.rstrip(b" \t")
    if content.strip() and not (stripped.endswith((b"\n\n", b"\r\n\r\n", b"\r\r"))):
        parsed.framing_problems.append("the last event is not ended by a blank line")
    if not parsed.framing_problems:
        parsed.events = strict
        return parsed
    # Lenient: ChatKit servers put one JSON object on each `data:` line.
    text = content.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
    for line in text.split("\n"):
        if line.startswith("data:"):
            obj = _json_object(line[5:].strip())
            if obj is not None:
                parsed.events.append(obj)
    return parsed


def item_kind(item: dict[str, Any]) -> str:
    """An item's type without the REST spelling's `chatkit.` prefix."""
    kind = item.get("type")
    return kind.removeprefix("chatkit.") if isinstance(kind, str) else ""


def item_text(item: dict[str, Any]) -> str:
    """The text of a user or assistant message item (its text parts joined)."""
    parts = item.get("content")
    if not isinstance(parts, list):
        return ""
    return "".join(str(part.get("text", "")) for part in parts if isinstance(part, dict))


@dataclass
class ItemTrack:
    """What a stream said about one item: its latest full state and its lifecycle events, in order."""

    item: dict[str, Any]
    added: bool = False
    done: bool = False
    removed: bool = False
    replaced: bool = False


def walk_items(events: Iterable[dict[str, Any]]) -> dict[str, ItemTrack]:
    """Item id -> its track, in order of first appearance (added, done or replaced)."""
    tracks: dict[str, ItemTrack] = {}
    for event in events:
        kind = event.get("type")
        item = event.get("item")
        if kind in ("thread.item.added", "thread.item.done", "thread.item.replaced") and isinstance(item, dict):
            item_id = item.get("id")
            if not isinstance(item_id, str):
                continue
            track = tracks.setdefault(item_id, ItemTrack(item=item))
            track.item = item
            if kind == "thread.item.added":
                track.added = True
            elif kind == "thread.item.done":
                track.done = True
            else:
                track.replaced = True
        elif kind == "thread.item.removed" and isinstance(event.get("item_id"), str):
            track_removed = tracks.get(event["item_id"])
            if track_removed is not None:
                track_removed.removed = True
    return tracks


def find_actions(node: Any) -> Iterator[dict[str, Any]]:
    """Every widget action (`{"type": ..., "payload"?: ...}` under a key ending in `Action`) in a widget tree."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key.endswith("Action") and isinstance(value, dict) and isinstance(value.get("type"), str):
                yield value
            else:
                yield from find_actions(value)
    elif isinstance(node, list):
        for value in node:
            yield from find_actions(value)
