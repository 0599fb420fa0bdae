"""The per-chunk fast paths (issue 9) give exactly what the event-by-event paths give.

- `SSEDecoder.feed` splits a chunk of plain `data:` events in one step;
- `updated_event_parser` (the model's own validator) builds the models `parse_event` builds;
- `EventDecoder.event` uses it for `thread.item.updated`, and still refuses what `parse_event` refuses;
- `EventDecoder.apply_quietly` applies a batch of text deltas to one part at once;
- `ReplyBuilder` remembers the part of the last delta, and forgets it whenever anything else happens.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from chatkit_client._core.chat import ChatState, TurnDriver
from chatkit_client._core.decoder import EventDecoder
from chatkit_client._core.reply import ReplyBuilder
from chatkit_client._core.sse import SSEDecoder
from chatkit_client._exceptions import StreamDecodeError
from chatkit_client.types import AssistantMessageItem, ThreadItemAddedEvent, ThreadItemUpdatedEvent, parse_event
from chatkit_client.types._events import _parse_event_carefully, updated_event_parser

MSG = "msg_1"


def compact(obj: dict[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def delta(text: str, index: int = 0, item_id: str = MSG, **extra: Any) -> dict[str, Any]:
    update = {"type": "assistant_message.content_part.text_delta", "content_index": index, "delta": text, **extra}
    return {"type": "thread.item.updated", "item_id": item_id, "update": update}


OPENING = [
    {"type": "thread.created", "thread": {"id": "thr_1", "created_at": 0, "status": {"type": "active"}}},
    {"type": "thread.item.added", "item": {"id": MSG, "thread_id": "thr_1", "created_at": 0,
                                           "type": "assistant_message", "content": []}},
]


def sse(*payloads: str) -> bytes:
    return b"".join(f"data: {p}\n\n".encode() for p in payloads)


@pytest.mark.parametrize(
    "body",
    [
        sse("a", "b", "c"),
        sse("a") + b"data: b\ndata: c\n\n" + sse("d"),  # a multi-line event: the general rules
        sse("a") + b": comment\n\n" + sse("b"),
        sse("a") + b"\n" + sse("b"),  # an extra blank line
        sse("a", "", "b"),
        sse("café 😀", "x" * 3000, "y"),
        b"\xef\xbb\xbf" + sse("bom"),
    ],
)
@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 10_000])
def test_a_chunk_of_plain_events_splits_as_the_line_rules_do(body: bytes, size: int) -> None:
    whole = SSEDecoder()
    expected = whole.feed(body) + whole.flush()
    decoder = SSEDecoder()
    found: list[str] = []
    for start in range(0, len(body), size):
        found += decoder.feed(body[start : start + size])
    assert found + decoder.flush() == expected
    # The general line rules (what an event with any other line takes) agree.
    reference: list[str] = []
    for event in body.decode("utf-8").removeprefix("\ufeff").split("\n\n"):
        SSEDecoder._parse_event(event, reference)
    assert expected == reference


def test_the_fast_split_keeps_the_event_size_limit() -> None:
    decoder = SSEDecoder(max_event_size=40)  # a whole event's text, `data: ` included
    assert decoder.feed(sse("short", "x" * 34)) == ["short", "x" * 34]
    with pytest.raises(StreamDecodeError, match="max_event_size"):
        decoder.feed(sse("short", "x" * 35))


@pytest.mark.parametrize(
    "data",
    [
        compact(delta("w0 ")),
        compact(delta("")),
        compact(delta("new\nline \"quoted\" \\ café 😀")),
        json.dumps(delta("spaced", 3)),
        compact(delta("a", 10**17)),
        compact(delta("extra", extra_field={"nested": [1, 2]})),
        compact({**delta("top extra"), "seq": 5}),
        compact({"type": "thread.item.updated", "item_id": MSG,
                 "update": {"type": "widget.streaming_text.value_delta", "component_id": "c", "delta": "x"}}),
        compact({"type": "thread.item.updated", "item_id": MSG, "update": {"type": "future.update", "x": [1]}}),
        compact(delta("a")).replace('"content_index":0', '"content_index":0.0'),  # coerced, as the models do
        compact(delta("a")).replace('"content_index":0', '"content_index":"2"'),
    ],
)
def test_the_validator_builds_the_models_validation_builds(data: str) -> None:
    event = updated_event_parser()(data)
    validated = _parse_event_carefully(data)
    assert type(event) is ThreadItemUpdatedEvent and type(event.update) is type(validated.update)  # type: ignore[union-attr]
    assert event == validated
    assert event.model_fields_set == validated.model_fields_set
    assert event.update.model_fields_set == validated.update.model_fields_set  # type: ignore[union-attr]
    assert event.model_extra == validated.model_extra
    assert event.model_dump_json() == validated.model_dump_json()
    assert parse_event(data) == validated
    assert EventDecoder(ReplyBuilder()).event(data) == validated


@pytest.mark.parametrize(
    "data",
    [
        compact(delta("a")).replace('"content_index":0', '"content_index":1.5'),
        compact(delta("a")).replace('"delta":"a"', '"delta":5'),
        compact(delta("a"))[:-1],
        compact({"type": "thread.item.updated", "item_id": MSG, "update": {"type": "widget.root.updated"}}),
        compact({"type": "thread.item.updated", "item_id": MSG,
                 "update": {"type": "widget.root.updated", "widget": {"children": json.loads("[" * 200 + "]" * 200)}}}),
    ],
)
def test_what_the_validator_refuses_the_decoder_refuses_as_parse_event_does(data: str) -> None:
    def outcome(read: Any) -> Any:
        try:
            return read(data)
        except StreamDecodeError as err:
            return str(err)

    assert outcome(EventDecoder(ReplyBuilder()).event) == outcome(parse_event)


def test_a_text_delta_nesting_too_deep_is_refused_as_parse_event_refuses_it() -> None:
    deep: Any = 1
    for _ in range(200):
        deep = [deep]
    data = compact(delta("a", extra_field=deep))
    with pytest.raises(StreamDecodeError, match="MAX_EVENT_DEPTH"):
        parse_event(data)
    builder = ReplyBuilder()
    with pytest.raises(StreamDecodeError, match="MAX_EVENT_DEPTH") as caught:
        EventDecoder(builder).event(data)
    assert caught.value.reply is not None


def quiet(payloads: list[str], *, chunked: bool = False) -> Any:
    builder = ReplyBuilder()
    decoder = EventDecoder(builder)
    if chunked:
        for payload in payloads:
            decoder.apply_quietly([payload])
    else:
        decoder.apply_quietly(payloads)
    return builder.reply(), decoder.events


def typed(payloads: list[str]) -> Any:
    builder = ReplyBuilder()
    decoder = EventDecoder(builder)
    for payload in payloads:
        decoder.event(payload)
    return builder.reply(), decoder.events


@pytest.mark.parametrize(
    "tail",
    [
        [compact(delta(f"w{n} ")) for n in range(50)],  # the usual chunk: one part, applied at once
        [compact(delta(f"w{n} ", index=n % 2)) for n in range(10)],  # two parts, interleaved
        [compact(delta("a")), compact(delta("b", item_id="msg_2")), compact(delta("c"))],
        [compact(delta("a")), compact(delta("new\nline")), "", compact(delta("c"))],
        [compact(delta("a")), "multi\nline payload"],
        [compact(delta("a")), compact({"type": "progress_update", "text": "working"}), compact(delta("b"))],
    ],
)
def test_a_batch_applied_at_once_gives_the_reply_of_events_one_by_one(tail: list[str]) -> None:
    payloads = [compact(e) for e in OPENING] + tail

    def outcome(run: Any) -> Any:
        try:
            return run(payloads)
        except StreamDecodeError as err:
            return "raised", err.reply

    expected = outcome(typed)
    assert outcome(quiet) == expected
    assert outcome(lambda p: quiet(p, chunked=True)) == expected
    assert outcome(lambda p: quiet(p[:2]) and quiet(p)) == expected


def test_a_reply_taken_between_deltas_does_not_stop_later_deltas_from_showing() -> None:
    builder = ReplyBuilder()
    decoder = EventDecoder(builder)
    decoder.apply_quietly([compact(e) for e in OPENING] + [compact(delta("a"))])
    assert builder.reply().text == "a"
    decoder.apply_quietly([compact(delta("b")), compact(delta("c"))])
    assert builder.reply().text == "abc"
    decoder.event(compact(delta("d")))
    first = builder.reply()
    decoder.event(compact(delta("e")))
    assert (first.text, builder.reply().text) == ("abcd", "abcde")
    # A new message with the same id replaces the part the deltas went to: later deltas go to the new one.
    replaced = ThreadItemAddedEvent(item=AssistantMessageItem(id=MSG, thread_id="thr_1", content=[]))
    builder.apply(replaced)
    decoder.event(compact(delta("f")))
    assert builder.reply().text == "f"


def test_a_failing_event_is_recorded_once_by_the_turn_driver() -> None:
    state = ChatState()
    driver = TurnDriver(state)
    driver.begin_round("text/event-stream")
    driver.event(compact(OPENING[0]))
    with pytest.raises(StreamDecodeError) as caught:
        driver.event("{not json")
    assert driver.failure is caught.value and caught.value.reply is not None
    assert state.thread_id == "thr_1" and state.knows_last_turn is False
    with pytest.raises(StreamDecodeError) as again:
        driver.apply_quietly([compact(delta("a")), "{not json"])
    assert driver.failure is again.value


def test_delta_text_gives_what_text_deltas_yields_for_every_shape() -> None:
    payloads = [compact(e) for e in OPENING] + [
        compact(delta("plain ")),
        compact(delta("new\nline ")),
        compact(delta("extra ", extra_field=[1])),
        json.dumps(delta("spaced")),
        compact({"type": "progress_update", "text": "working"}),
    ]
    for keep_events in (False, True):
        builder = ReplyBuilder(keep_events=keep_events)
        decoder = EventDecoder(builder)
        texts = [decoder.delta_text(p) for p in payloads]
        assert texts == [None, None, "plain ", "new\nline ", "extra ", "spaced", None]
        assert builder.reply().text == "plain new\nline extra spaced" and decoder.events == len(payloads)


def test_delta_text_failures_are_recorded_by_the_turn_driver() -> None:
    state = ChatState()
    driver = TurnDriver(state)
    driver.begin_round("text/event-stream")
    assert driver.delta_text(compact(OPENING[0])) is None
    with pytest.raises(StreamDecodeError) as caught:
        driver.delta_text("[1]")
    assert driver.failure is caught.value and caught.value.reply is not None and state.thread_id == "thr_1"
