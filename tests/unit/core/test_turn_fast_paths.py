"""The shells' cheap steps give exactly the typed path's turn, over many generated streams.

`ChatStream` iterates with `event`, `text_deltas()` with `text_or_event`, `get_final_reply()`/`send()` with
`payloads` + `apply_quietly`, and a stream may switch from one to another midway. Whatever the steps and
however the bytes are cut, the Reply, the event count, `allow_cancel`, the error event and any failure
(with its partial Reply) must be those of `feed`/`end_round`, which builds every typed event.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from chatkit_client._core.chat import ChatState, TurnDriver
from chatkit_client._core.reply import Reply
from chatkit_client._exceptions import StreamDecodeError, StreamEndedEarlyError, StreamError
from chatkit_client.types import AssistantMessageContentPartTextDelta, ThreadItemUpdatedEvent

from .turns import ANSWER, ASSISTANT, ERROR, TURNS, compact, wire

SSE = "text/event-stream"
DELTA = "assistant_message.content_part.text_delta"


@dataclass
class Result:
    reply: Reply
    events: int
    allow_cancel: bool | None
    error_event: Any
    texts: list[str]
    failure: tuple[type[BaseException], str, Reply | None] | None


Step = Callable[[TurnDriver, list[str], list[str]], None]


def delta_text(event: object) -> str | None:
    if isinstance(event, ThreadItemUpdatedEvent) and isinstance(event.update, AssistantMessageContentPartTextDelta):
        return event.update.delta
    return None


def by_event(driver: TurnDriver, payloads: list[str], texts: list[str]) -> None:
    for data in payloads:
        text = delta_text(driver.event(data))
        if text is not None:
            texts.append(text)


def by_text_or_event(driver: TurnDriver, payloads: list[str], texts: list[str]) -> None:
    for data in payloads:
        found = driver.text_or_event(data)
        text = found if type(found) is str else delta_text(found)
        if text is not None:
            texts.append(text)


def quietly(driver: TurnDriver, payloads: list[str], texts: list[str]) -> None:
    driver.apply_quietly(payloads)


def run(chunks: list[bytes], *, keep_events: bool, steps: Callable[[int], Step]) -> Result:
    """The round as the shells drive it; `steps(n)` picks how the n-th batch of payloads is applied."""
    driver = TurnDriver(ChatState(), keep_events=keep_events)
    texts: list[str] = []
    failure = None
    try:
        driver.begin_round(SSE)
        for n, chunk in enumerate(chunks):
            steps(n)(driver, driver.payloads(chunk), texts)
        steps(len(chunks))(driver, driver.end_payloads(), texts)
        driver.next_tool_round()
    except (StreamDecodeError, StreamEndedEarlyError, StreamError) as err:
        failure = (type(err), str(err), err.reply)
        assert driver.failure is err
    return Result(
        driver.reply(), driver.events_received + driver.decoder.events, driver.allow_cancel, driver.decoder.error,
        texts, failure,
    )


def typed(chunks: list[bytes], *, keep_events: bool) -> Result:
    """The reference: `feed` and `end_round`, every payload a typed event."""
    driver = TurnDriver(ChatState(), keep_events=keep_events)
    texts: list[str] = []
    failure = None
    try:
        driver.begin_round(SSE)
        events = [event for chunk in chunks for event in driver.feed(chunk)]
        events += driver.end_round()
        texts = [text for text in map(delta_text, events) if text is not None]
        driver.next_tool_round()
    except (StreamDecodeError, StreamEndedEarlyError, StreamError) as err:
        failure = (type(err), str(err), err.reply)
        # Texts of the events applied before the failure are not returned by `feed`: compare without them.
        texts = []
    return Result(
        driver.reply(), driver.events_received + driver.decoder.events, driver.allow_cancel, driver.decoder.error,
        texts, failure,
    )


# -- generated payloads -----------------------------------------------------------------------------------

ITEM_IDS = [ASSISTANT, "cti_other", 'cti_"quoted"', "cti_é"]
texts = st.text(max_size=12) | st.sampled_from(["", "a b", "\n", '"', "\\", "\u2028", "😀", "\x00", "é" * 3])
indexes = st.integers(0, 3) | st.sampled_from([-1, 17, 10**17, 10**18])


@st.composite
def delta_payload(draw: st.DrawFn) -> str:
    item_id, index, text = draw(st.sampled_from(ITEM_IDS)), draw(indexes), draw(texts)
    obj: dict[str, Any] = {
        "type": "thread.item.updated",
        "item_id": item_id,
        "update": {"type": DELTA, "content_index": index, "delta": text},
    }
    style = draw(st.sampled_from(["compact", "ascii", "spaced", "extra", "float", "reordered", "nested_extra"]))
    if style == "ascii":
        return json.dumps(obj, separators=(",", ":"))
    if style == "spaced":
        return json.dumps(obj, ensure_ascii=False)
    if style == "extra":
        obj["update"]["annotations"] = []
    elif style == "nested_extra":
        obj["seq"] = 3
    elif style == "float":
        obj["update"]["content_index"] = float(index) if abs(index) < 10**15 else index
    elif style == "reordered":
        obj = {"item_id": item_id, "update": obj["update"], "type": "thread.item.updated"}
    return compact(obj)


OTHER = [
    *(compact(obj) for obj in ANSWER if obj.get("update", {}).get("type") != DELTA),
    compact(ERROR),
    compact({"type": "error", "code": "custom", "message": None, "allow_retry": False}),
    compact({"type": "stream_options", "stream_options": {"allow_cancel": False}}),
    compact({"type": "future.event", "payload": {"x": [1, 2]}}),
    compact({"type": "progress_update", "text": "x" * 3}),
    compact({"type": "thread.item.removed", "item_id": ASSISTANT}),
]
BAD = [
    compact({"type": "thread.item.updated", "item_id": ASSISTANT,
             "update": {"type": DELTA, "content_index": "x", "delta": "a"}}),
    compact({"type": "thread.item.updated", "item_id": ASSISTANT,
             "update": {"type": DELTA, "content_index": 0, "delta": 5}}),
    '{"type":"thread.item.updated","item_id":"' + ASSISTANT + '","update":{"type":"' + DELTA + '"',
    "not json at all",
    "[1, 2]",
]
payloads = st.lists(delta_payload() | st.sampled_from(OTHER), max_size=30)


def frame(items: list[str]) -> bytes:
    return b"".join(b"data: " + data.encode("utf-8", "surrogatepass") + b"\n\n" for data in items)


def cut(data: bytes, offsets: list[int]) -> list[bytes]:
    bounds = [0, *sorted(set(offsets)), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def same(result: Result, reference: Result, *, texts: bool = True) -> None:
    assert result.reply == reference.reply
    assert result.reply.text == reference.reply.text
    assert (result.events, result.allow_cancel, result.error_event) == (
        reference.events, reference.allow_cancel, reference.error_event,
    )
    if reference.failure is None:
        assert result.failure is None
        if texts:
            assert result.texts == reference.texts
    else:
        assert result.failure is not None
        assert result.failure[:2] == reference.failure[:2]
        assert result.failure[2] == reference.failure[2]


@settings(max_examples=100, deadline=None)
@given(
    stream=payloads,
    bad=st.none() | st.sampled_from(BAD),
    keep_events=st.booleans(),
    data=st.data(),
)
def test_every_way_of_applying_a_stream_gives_the_typed_turn(
    stream: list[str], bad: str | None, keep_events: bool, data: st.DataObject
) -> None:
    items = [*stream, bad] if bad is not None else stream
    body = frame(items)
    chunks = cut(body, data.draw(st.lists(st.integers(0, len(body)), max_size=8)))
    reference = typed(chunks, keep_events=keep_events)
    same(run(chunks, keep_events=keep_events, steps=lambda n: by_event), reference)
    same(run(chunks, keep_events=keep_events, steps=lambda n: by_text_or_event), reference)
    # `send()` applies whole batches and yields no text.
    same(run(chunks, keep_events=keep_events, steps=lambda n: quietly), reference, texts=False)
    # A stream iterated for a while, then finished by get_final_reply(), or text_deltas() then events.
    switch = data.draw(st.integers(0, len(chunks)))
    events_then_rest = run(chunks, keep_events=keep_events, steps=lambda n: by_event if n < switch else quietly)
    same(events_then_rest, reference, texts=False)
    mixed = run(chunks, keep_events=keep_events, steps=lambda n: by_text_or_event if n < switch else by_event)
    same(mixed, reference)


def test_the_realistic_turns_agree_on_every_path() -> None:
    for kind, objs in TURNS.items():
        body = wire(objs, newline="\r\n")
        chunks = [body[i : i + 5] for i in range(0, len(body), 5)]
        for keep_events in (False, True):
            reference = typed(chunks, keep_events=keep_events)
            assert reference.reply.text and (reference.failure is not None) == (kind == "error")
            for step in (by_event, by_text_or_event, quietly):
                result = run(chunks, keep_events=keep_events, steps=lambda n, s=step: s)
                same(result, reference, texts=step is not quietly)
            assert (reference.reply.events is not None) == keep_events
