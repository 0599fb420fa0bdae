"""Property tests of the pure stream path (bytes -> SSE -> typed events -> Reply).

1. Any chunking of any generated valid stream yields the same events and the same Reply as feeding it
   whole, and the same events as parsing each event's JSON directly (2 x 1,000 examples).
2. Random mutations of valid event JSON give a tolerant parse or a `ChatKitError`, never another
   exception type, both through `parse_event` and through the whole decoder + ReplyBuilder.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatkit_client import ChatKitError
from chatkit_client._core.decoder import EventDecoder
from chatkit_client._core.reply import Reply, ReplyBuilder
from chatkit_client.types import ThreadStreamEvent, parse_event
from tests.reliability.misbehaving_server import reply_events

FUZZ = settings(
    max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
MUTATE = settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])

text = st.text(st.characters(codec="utf-8"), max_size=12)
item_ids = st.sampled_from(["msg_a", "msg_b", "msg_c"])


@st.composite
def turn_events(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A well-formed turn with extras interleaved: deltas to several items, notices, progress, effects."""
    events = reply_events(draw(text), words=draw(st.lists(text, max_size=8)))
    extras = st.one_of(
        st.builds(lambda t: {"type": "progress_update", "text": t}, text),
        st.builds(
            lambda t, lvl: {"type": "notice", "level": lvl, "message": t}, text, st.sampled_from(["info", "danger"])
        ),
        st.builds(lambda t: {"type": "client_effect", "name": "fx", "data": {"v": t}}, text),
        st.builds(
            lambda i, t, n: {
                "type": "thread.item.updated",
                "item_id": i,
                "update": {"type": "assistant_message.content_part.text_delta", "content_index": n, "delta": t},
            },
            item_ids,
            text,
            st.integers(0, 2),
        ),
        st.builds(lambda i: {"type": "thread.item.removed", "item_id": i}, item_ids),
        st.builds(lambda t: {"type": "some.future_event", "payload": t}, text),
        st.builds(lambda t: {"type": "error", "code": "custom", "message": t, "allow_retry": True}, text),
        st.just({"type": "stream_options", "stream_options": {"allow_cancel": True}}),
    )
    for extra in draw(st.lists(extras, max_size=6)):
        events.insert(draw(st.integers(0, len(events))), extra)
    return events


@st.composite
def encoded(draw: st.DrawFn, events: list[dict[str, Any]]) -> bytes:
    """The events as SSE, with the framing variations servers use: line ends, comments, fields, BOM."""
    end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    out = "\ufeff" if draw(st.booleans()) else ""
    for obj in events:
        payload = json.dumps(
            obj, ensure_ascii=draw(st.booleans()), separators=draw(st.sampled_from([(",", ":"), None]))
        )
        lines: list[str] = []
        if draw(st.integers(0, 4)) == 0:
            lines.append(": keep-alive")
        if draw(st.integers(0, 4)) == 0:
            lines.append("event: message")
        if draw(st.integers(0, 4)) == 0:
            # JSON allows a line break between tokens, so the payload may span two `data:` lines.
            head, sep, tail = payload.partition(",")
            lines += [f"data: {head}{sep}", f"data:{tail}"] if sep else [f"data: {payload}"]
        else:
            lines.append(f"data: {payload}" if draw(st.booleans()) else f"data:{payload}")
        out += end.join(lines) + end + end
    return out.encode()


@st.composite
def chunked(draw: st.DrawFn, data: bytes) -> list[bytes]:
    if not data:
        return []
    cuts = sorted(set(draw(st.lists(st.integers(1, max(1, len(data) - 1)), max_size=40))))
    if draw(st.integers(0, 9)) == 0:
        cuts = list(range(1, len(data)))  # byte by byte, splitting every multibyte character
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds) if b > a]


def decode(chunks: list[bytes]) -> tuple[list[ThreadStreamEvent], Reply]:
    builder = ReplyBuilder(keep_events=True)
    decoder = EventDecoder(builder)
    events: list[ThreadStreamEvent] = []
    for piece in chunks:
        events += decoder.feed(piece)
    events += decoder.finish()
    return events, builder.reply()


@st.composite
def stream_and_chunks(draw: st.DrawFn) -> tuple[list[dict[str, Any]], bytes, list[bytes]]:
    events = draw(turn_events())
    data = draw(encoded(events))
    return events, data, draw(chunked(data))


@FUZZ
@given(stream_and_chunks())
def test_any_chunking_gives_the_same_events_and_reply(case: tuple[list[dict[str, Any]], bytes, list[bytes]]) -> None:
    events, data, chunks = case
    whole_events, whole_reply = decode([data])
    cut_events, cut_reply = decode(chunks)
    assert cut_events == whole_events
    assert cut_reply == whole_reply
    assert whole_events == [parse_event(json.dumps(obj)) for obj in events]


@FUZZ
@given(stream_and_chunks(), st.integers(0, 3))
def test_any_chunking_of_a_stream_cut_short_keeps_every_whole_event(
    case: tuple[list[dict[str, Any]], bytes, list[bytes]], drop: int
) -> None:
    # A stream that ends mid-event (a break): every event completed before the cut arrives, whatever the chunks.
    _, data, chunks = case
    cut = max(0, len(data) - drop * 7)
    short = data[:cut]
    bounds = [0, *[b for b in itertools.accumulate(len(c) for c in chunks) if b < cut], cut]
    pieces = [short[a:b] for a, b in itertools.pairwise(bounds) if b > a]
    builder_whole, builder_cut = ReplyBuilder(), ReplyBuilder()
    whole, parts = EventDecoder(builder_whole), EventDecoder(builder_cut)
    expected = whole.feed(short)
    got: list[ThreadStreamEvent] = []
    for piece in pieces:
        got += parts.feed(piece)
    assert got == expected
    assert builder_cut.reply() == builder_whole.reply()


def _json_values() -> st.SearchStrategy[Any]:
    return st.recursive(
        st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | text,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
        max_leaves=8,
    )


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, inner in value.items():
            found += _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += _paths(inner, (*prefix, index))
    return found


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replace(value[path[0]], path[1:], new)
    return copy


valid_payloads = st.sampled_from(
    [json.dumps(obj) for obj in reply_events("hello", words=["a", "b"])]
    + [
        json.dumps({"type": "notice", "level": "info", "message": "m"}),
        json.dumps({"type": "error", "code": "custom", "message": "x", "allow_retry": True}),
        json.dumps({"type": "progress_update", "text": "t"}),
        json.dumps({"type": "client_effect", "name": "fx", "data": {}}),
        json.dumps({"type": "thread.item.removed", "item_id": "msg_asst"}),
    ]
)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    payload = draw(valid_payloads)
    how = draw(st.sampled_from(["structure", "structure", "bytes", "truncate"]))
    if how == "structure":
        obj = json.loads(payload)
        path = draw(st.sampled_from(_paths(obj)))
        return json.dumps(_replace(obj, path, draw(_json_values())))
    if how == "truncate":
        return payload[: draw(st.integers(0, len(payload)))]
    chars = list(payload)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(chars)))
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        new = draw(st.characters(codec="utf-8"))
        if op == "insert" or not chars[at:]:
            chars.insert(at, new)
        elif op == "delete":
            del chars[at]
        else:
            chars[at] = new
    return "".join(chars)


@MUTATE
@given(mutated())
def test_mutated_event_json_parses_tolerantly_or_raises_a_typed_error(payload: str) -> None:
    try:
        event = parse_event(payload)
    except ChatKitError:
        return
    # Tolerated: the event must also survive Reply assembly and reading the Reply.
    builder = ReplyBuilder()
    for obj in reply_events("hello", words=["a"]):
        builder.apply(parse_event(json.dumps(obj)))
    builder.apply(event)
    reply = builder.reply()
    assert isinstance(reply.text, str)
    repr(reply)


@MUTATE
@given(st.lists(mutated(), min_size=1, max_size=4), st.data())
def test_mutated_streams_through_the_decoder_raise_only_chatkit_errors(
    payloads: list[str], data: st.DataObject
) -> None:
    good = [json.dumps(obj) for obj in reply_events("hello", words=["a", "b"])]
    stream = good[:3] + payloads + good[3:]
    raw = "".join(f"data: {p.replace(chr(10), ' ').replace(chr(13), ' ')}\n\n" for p in stream).encode()
    builder = ReplyBuilder()
    decoder = EventDecoder(builder)
    try:
        for piece in data.draw(chunked(raw)):
            decoder.feed(piece)
        decoder.finish()
    except ChatKitError as err:
        # What came before the bad event is kept: the error's partial Reply is everything applied so far.
        assert isinstance(getattr(err, "reply", None), Reply)
        assert err.reply == builder.reply()  # type: ignore[attr-defined]
        assert err.reply.thread_id is not None  # type: ignore[attr-defined]
    assert isinstance(builder.reply().text, str)
