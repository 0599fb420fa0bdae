"""The cheap paths for text deltas give exactly what the typed path gives, and keep its checks.

`parse_event` builds a plain text delta without validation, and `EventDecoder.apply_quietly` (what
`send()` uses) applies text deltas without building models at all; both must agree with validation.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from chatkit_client._core.decoder import EventDecoder
from chatkit_client._core.reply import MAX_CONTENT_PARTS, ReplyBuilder
from chatkit_client._exceptions import StreamDecodeError
from chatkit_client.types import ThreadItemUpdatedEvent, parse_event
from chatkit_client.types._events import PLAIN_TEXT_DELTA

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


@pytest.mark.parametrize("text", ["w0 ", "", "café – 😀", "x" * 5000, "tab\there", 'quote " and \\ slash', "a\nb"])
@pytest.mark.parametrize("index", [0, 7, 10**17])
def test_a_parsed_text_delta_equals_the_validated_model(text: str, index: int) -> None:
    data = compact(delta(text, index))
    event = parse_event(data)
    validated = ThreadItemUpdatedEvent.model_validate_json(data)
    assert event == validated
    assert event.model_fields_set == validated.model_fields_set
    assert event.model_dump_json() == validated.model_dump_json()
    assert event.update.model_extra == {} and event.model_extra == {}


@pytest.mark.parametrize(
    "data",
    [
        compact(delta("a", extra_field=1)),  # kept in model_extra by validation
        compact(delta("a")).replace('"content_index":0', '"content_index":0.0'),  # coerced by validation
        compact(delta("a")).replace('"content_index":0', '"content_index":00'),  # not JSON
        json.dumps(delta("a")),  # spaces
        compact(delta("a\nb")),  # escapes
        '{"type":"thread.item.updated","item_id":"m","update":{"type":"assistant_message.content_part.text_delta",'
        '"content_index":0,"delta":"raw\tcontrol"}}',  # invalid JSON string
    ],
)
def test_only_exact_compact_unescaped_deltas_take_the_unvalidated_path(data: str) -> None:
    assert PLAIN_TEXT_DELTA.fullmatch(data) is None


def sse(*payloads: str) -> bytes:
    return b"".join(f"data: {p}\n\n".encode() for p in payloads)


def typed_reply(payloads: list[str]) -> Any:
    builder = ReplyBuilder()
    decoder = EventDecoder(builder)
    decoder.feed(sse(*payloads))
    decoder.finish()
    return builder.reply(), decoder.events


def quiet_reply(payloads: list[str]) -> Any:
    builder = ReplyBuilder()
    decoder = EventDecoder(builder)
    decoder.apply_quietly(decoder.payloads(sse(*payloads)))
    decoder.apply_quietly(decoder.final_payloads())
    return builder.reply(), decoder.events


def test_send_path_gives_the_typed_reply_for_every_shape_of_delta() -> None:
    payloads = [compact(e) for e in OPENING] + [
        compact(delta("plain ")),
        compact(delta("new\nline ")),
        compact(delta('"quoted" ')),
        compact(delta("extra ", extra_field=[1])),
        compact(delta("second part", index=1)),
        compact(delta("unknown item", item_id="msg_2")),
        json.dumps(delta(" spaced")),
        compact(delta("negative index ignored", index=-1)),
        compact({"type": "thread.item.updated", "item_id": MSG, "update": {"type": "widget.root.updated",
                                                                            "widget": {"type": "Card"}}}),
    ]
    typed, typed_events = typed_reply(payloads)
    quiet, quiet_events = quiet_reply(payloads)
    assert quiet == typed and quiet_events == typed_events == len(payloads)
    assert typed.text == 'plain new\nline "quoted" extra  spaced\n\nsecond part\n\nunknown item'


def test_a_malformed_delta_on_the_send_path_raises_with_the_reply_so_far() -> None:
    bad = compact(delta("a")).replace('"content_index":0', '"content_index":"x"')
    builder = ReplyBuilder()
    decoder = EventDecoder(builder)
    with pytest.raises(StreamDecodeError, match=r"text_delta|thread\.item\.updated") as caught:
        decoder.apply_quietly([*(compact(e) for e in OPENING), compact(delta("kept")), bad])
    assert caught.value.reply is not None and caught.value.reply.text == "kept"


def test_the_send_path_keeps_the_content_part_limit() -> None:
    builder = ReplyBuilder()
    decoder = EventDecoder(builder)
    payloads = [compact(e) for e in OPENING] + [compact(delta("w", index=n)) for n in range(MAX_CONTENT_PARTS + 1)]
    with pytest.raises(StreamDecodeError, match="MAX_CONTENT_PARTS") as caught:
        decoder.apply_quietly(payloads)
    assert caught.value.reply is not None and caught.value.reply.thread_id == "thr_1"


def test_error_events_are_recorded_on_the_send_path() -> None:
    builder = ReplyBuilder()
    decoder = EventDecoder(builder)
    decoder.apply_quietly([compact(delta("a")), compact({"type": "error", "code": "custom", "message": "boom"})])
    assert decoder.error is not None and decoder.error.message == "boom"


def test_text_or_event_gives_text_for_deltas_and_events_otherwise() -> None:
    builder = ReplyBuilder()
    decoder = EventDecoder(builder)
    assert decoder.text_or_event(compact(delta("a"))) == "a"
    assert decoder.text_or_event(compact(delta("b\nc"))) == "b\nc"
    opts = decoder.text_or_event(compact({"type": "stream_options", "stream_options": {"allow_cancel": True}}))
    assert not isinstance(opts, str) and decoder.allow_cancel is True
    kept = EventDecoder(ReplyBuilder(keep_events=True))
    assert isinstance(kept.text_or_event(compact(delta("a"))), ThreadItemUpdatedEvent)
