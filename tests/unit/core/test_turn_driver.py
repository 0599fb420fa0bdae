"""TurnDriver fed bytes, without sockets: a realistic turn cut at every awkward place gives the same events and
Reply; a round without events, a broken body, a refused content type and tool rounds, as the shells drive them."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatkit_client._core.chat import ChatState, TurnDriver, tool_output
from chatkit_client._core.reply import Reply
from chatkit_client._exceptions import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    BodyFailedAfterStatusError,
    StreamEndedEarlyError,
    StreamError,
    StreamInterruptedError,
    ToolRoundsExceededError,
)
from chatkit_client.types import ClientToolCallItem, ThreadStreamEvent

from .turns import ANSWER, ASSISTANT, CALL, ERROR, PIECES, TEXT, THREAD, TURNS, USER, delta, tool_call, wire

SSE = "text/event-stream"


@dataclass
class Outcome:
    events: list[ThreadStreamEvent]
    reply: Reply
    allow_cancel: bool | None
    found: str | None  # the call id next_tool_round named
    error: StreamError | None


def weather(args: dict[str, Any]) -> dict[str, Any]:
    return {"city": args["city"], "temp": 21}


def run(chunks: list[bytes], state: ChatState | None = None) -> Outcome:
    """One round as the shells drive it: begin, feed every chunk, end, then ask for the next tool round."""
    if state is None:
        state = ChatState()
        state.register_tool("get_weather", weather)
    driver = TurnDriver(state)
    driver.begin_round(SSE, {"content-type": SSE})
    events: list[ThreadStreamEvent] = []
    for chunk in chunks:
        events += driver.feed(chunk)
    events += driver.end_round()
    found: str | None = None
    error: StreamError | None = None
    try:
        step = driver.next_tool_round()
        found = step[0].call_id if step is not None else None
    except StreamError as err:
        error = err
    return Outcome(events, driver.reply(), driver.allow_cancel, found, error)


def awkward_offsets(data: bytes) -> list[int]:
    """Inside a UTF-8 character, between CR and LF, and inside every `data:` field name and BOM."""
    offsets = set()
    for index in range(1, len(data)):
        if 0x80 <= data[index] < 0xC0 or data[index - 1 : index + 1] == b"\r\n":
            offsets.add(index)
        if data[index - 1 : index + 4] in (b"data:",):
            offsets.update(range(index, index + 5))
    return sorted(offsets)


def split_at(data: bytes, offsets: list[int]) -> list[bytes]:
    bounds = [0, *sorted(set(offsets)), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


REFERENCE = {kind: run([wire(objs)]) for kind, objs in TURNS.items()}


def same(outcome: Outcome, expected: Outcome) -> None:
    assert outcome.events == expected.events
    assert [type(e) for e in outcome.events] == [type(e) for e in expected.events]
    assert outcome.reply == expected.reply
    assert outcome.reply.text == expected.reply.text
    assert (outcome.allow_cancel, outcome.found) == (expected.allow_cancel, expected.found)
    if expected.error is None:
        assert outcome.error is None
    else:
        assert outcome.error is not None and str(outcome.error) == str(expected.error)
        assert outcome.error.reply == expected.error.reply


def test_the_reference_turns_decode_to_what_the_server_sent() -> None:
    answer = REFERENCE["answer"]
    assert [event.type for event in answer.events] == [obj["type"] for obj in ANSWER]
    reply = answer.reply
    assert reply.text == TEXT == "Grüße 👋\r\n日本語で \"quoted\" and \\ € 10"
    assert reply.thread_id == THREAD and reply.thread is not None and reply.thread.title == "Résumé 📄"
    assert reply.user_message is not None and reply.user_message.id == USER
    assert [item.id for item in reply.assistant_messages] == [ASSISTANT]
    assert [p.text for p in reply.progress] == ["Recherche… 🔎"]
    assert [(n.level, n.message) for n in reply.notices] == [("warning", "Quota presque atteint ⚠️")]
    assert [(e.name, e.data) for e in reply.effects] == [("refresh", {"view": "sidebar"})]
    assert reply.workflows[0].workflow.tasks[0].content == "考えています"
    assert answer.allow_cancel is True and answer.found is None and answer.error is None
    assert REFERENCE["tool_call"].found == "call_1"
    failed = REFERENCE["error"]
    assert failed.error is not None and failed.error.code == "stream.error" and failed.error.allow_retry is True
    assert failed.error.message == "Le modèle a échoué 💥"
    assert failed.error.reply is not None and failed.error.reply.text == TEXT
    assert [e.code for e in failed.reply.errors] == ["stream.error"]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
@pytest.mark.parametrize("kind", list(TURNS))
def test_any_framing_and_one_byte_at_a_time_give_the_same_turn(kind: str, newline: str) -> None:
    data = wire(TURNS[kind], newline=newline)
    same(run([data]), REFERENCE[kind])
    same(run([data[i : i + 1] for i in range(len(data))]), REFERENCE[kind])
    same(run([data[i : i + 7] for i in range(0, len(data), 7)]), REFERENCE[kind])


@pytest.mark.parametrize("kind", ["tool_call", "error"])  # each holds the whole answer turn
def test_a_cut_inside_a_character_or_a_crlf_changes_nothing(kind: str) -> None:
    data = wire(TURNS[kind], newline="\r\n")
    offsets = awkward_offsets(data)
    # The turn has 2-, 3- and 4-byte characters and a CRLF on every line: all of them get cut.
    assert len(offsets) > 150
    for offset in offsets:
        same(run(split_at(data, [offset])), REFERENCE[kind])
    # And all cuts at once: many chunks of one to a few bytes, each ending at an awkward place.
    same(run(split_at(data, offsets)), REFERENCE[kind])


def test_a_last_event_without_its_blank_line_still_counts() -> None:
    for newline in ("\n", "\r\n"):
        data = wire(TURNS["error"], newline=newline, terminated=False)
        assert not data.endswith(newline.encode())
        same(run([data]), REFERENCE["error"])
        same(run([data[i : i + 1] for i in range(len(data))]), REFERENCE["error"])


@settings(max_examples=60, deadline=None)
@given(data=st.data(), kind=st.sampled_from(list(TURNS)), newline=st.sampled_from(["\n", "\r\n", "\r"]))
def test_any_chunking_gives_the_same_turn(data: st.DataObject, kind: str, newline: str) -> None:
    body = wire(TURNS[kind], newline=newline)
    offsets = data.draw(st.lists(st.integers(0, len(body)), max_size=40))
    same(run(split_at(body, offsets)), REFERENCE[kind])


# -- a round that ends without an event ------------------------------------------------------------------


def test_a_body_of_comments_and_empty_events_has_no_event() -> None:
    body = b": keepalive\r\n\r\nevent: ping\r\nid: 1\r\nretry: 5\r\n\r\n:\r\n"
    driver = TurnDriver(ChatState())
    driver.begin_round(SSE)
    assert driver.feed(body) == []
    with pytest.raises(StreamEndedEarlyError) as caught:
        driver.end_round()
    assert f"its {len(body)} bytes held no event" in caught.value.message
    assert "no answer arrived" in caught.value.message and caught.value.events_received == 0
    assert caught.value.reply is not None and caught.value.reply.items == []


@pytest.mark.parametrize("encoding", ["zstd", " BR "])
def test_an_undecodable_encoding_is_named_when_no_event_came(encoding: str) -> None:
    driver = TurnDriver(ChatState())
    driver.begin_round(SSE, {"content-encoding": encoding})
    driver.feed(b"(\xb5/\xfd\x00\x00")
    with pytest.raises(StreamEndedEarlyError, match=rf"Content-Encoding: {encoding.strip().lower()}, which"):
        driver.end_round()


@pytest.mark.parametrize("encoding", ["gzip", "identity", "deflate"])
def test_a_decoded_encoding_is_not_blamed(encoding: str) -> None:
    driver = TurnDriver(ChatState())
    driver.begin_round(SSE, {"content-encoding": encoding})
    driver.feed(b"junk")
    with pytest.raises(StreamEndedEarlyError) as caught:
        driver.end_round()
    assert "Content-Encoding" not in caught.value.message


def test_an_empty_tool_output_round_keeps_the_first_rounds_reply() -> None:
    state = ChatState()
    state.register_tool("get_weather", weather)
    driver = TurnDriver(state)
    driver.begin_round(SSE)
    first = driver.feed(wire(TURNS["tool_call"]))
    driver.end_round()
    step = driver.next_tool_round()
    assert step is not None
    driver.tool_output_request(step[0], {"temp": 21})
    driver.begin_round(SSE)
    with pytest.raises(StreamEndedEarlyError, match="the body was empty") as caught:
        driver.end_round()
    # The first round's events count, and the message says where they are.
    reply = caught.value.reply
    assert caught.value.events_received == len(first) > 0
    assert reply is not None and f"The {len(reply.items)} items received are in .reply." in caught.value.message
    assert reply is not None and reply.text == TEXT and reply.client_tool_calls[0].output == {"temp": 21}
    assert driver.failure is caught.value
    # The turn broke: the Chat keeps the thread but no longer claims to know what is pending.
    assert state.thread_id == THREAD and state.knows_last_turn is False and state.pending_call is None


def test_a_round_whose_only_event_arrives_at_the_end_is_not_empty() -> None:
    driver = TurnDriver(ChatState())
    driver.begin_round(SSE)
    assert driver.feed(b'data: {"type":"progress_update","text":"x"}') == []
    [event] = driver.end_round()
    assert event.type == "progress_update" and driver.failure is None


# -- a body that breaks ---------------------------------------------------------------------------------


def half_turn() -> tuple[TurnDriver, ChatState, bytes]:
    state = ChatState()
    data = wire(ANSWER)
    cut = data.index(PIECES[2].encode()) + 4  # inside 日本語, mid-delta
    driver = TurnDriver(state)
    driver.begin_round(SSE)
    driver.feed(data[:cut])
    return driver, state, data[:cut]


def test_a_timeout_mid_answer_is_an_interruption_that_keeps_everything() -> None:
    driver, state, _ = half_turn()
    err = driver.interrupted(APITimeoutError("read timed out"))
    assert type(err) is StreamInterruptedError and driver.failure is err
    reply = err.reply
    assert reply is not None and reply.text == "".join(PIECES[:2])
    assert reply.thread_id == THREAD and reply.user_message is not None and len(reply.progress) == 1
    assert "read timed out" in err.message and f"the {len(reply.items)} items received" in err.message
    assert state.thread_id == THREAD and state.knows_last_turn is False


def test_a_server_closing_mid_answer_ended_early_and_counts_the_events() -> None:
    driver, state, _ = half_turn()
    sent = driver.decoder.events
    err = driver.interrupted(APIConnectionError("peer closed connection"))
    assert isinstance(err, StreamEndedEarlyError) and err.events_received == sent > 5
    assert f"after {sent} events, before the answer ended" in err.message and "peer closed connection" in err.message
    assert err.reply is not None and err.reply.text == "".join(PIECES[:2])
    assert "not sent again" in err.message and f"The {len(err.reply.items)} items received" in err.message
    assert state.knows_last_turn is False


def test_a_close_before_any_event_says_so() -> None:
    driver = TurnDriver(ChatState())
    driver.begin_round(SSE)
    driver.feed(b"data: {\"type\":\"progress")
    err = driver.interrupted(APIConnectionError())
    assert isinstance(err, StreamEndedEarlyError) and err.events_received == 0
    assert "before any event" in err.message and ".reply" not in err.message


def test_interruptions_count_the_events_of_earlier_tool_rounds() -> None:
    state = ChatState()
    state.register_tool("get_weather", weather)
    driver = TurnDriver(state)
    driver.begin_round(SSE)
    first = driver.feed(wire(TURNS["tool_call"]))
    step = driver.next_tool_round()
    assert step is not None
    driver.tool_output_request(step[0], weather({"city": "Zürich"}))
    driver.begin_round(SSE)
    # One whole event, then the start of another that never ends.
    driver.feed(wire([delta(ASSISTANT, 1, "Il fait 21 °C"), delta(ASSISTANT, 1, " lost")])[:-3])
    err = driver.interrupted(APIConnectionError("reset"))
    assert isinstance(err, StreamEndedEarlyError) and err.events_received == len(first) + 1
    assert err.reply is not None and err.reply.text == TEXT + "\n\nIl fait 21 °C"


def test_a_tool_output_round_failing_before_its_first_byte_counts_the_first_round() -> None:
    state = ChatState()
    state.register_tool("get_weather", weather)
    driver = TurnDriver(state)
    driver.begin_round(SSE)
    first = driver.feed(wire(TURNS["tool_call"]))
    step = driver.next_tool_round()
    assert step is not None
    driver.tool_output_request(step[0], weather({"city": "Zürich"}))
    err = driver.failed_before_body(BodyFailedAfterStatusError("boom", status_code=200))
    assert err.events_received == len(first) > 0
    assert f"after {len(first)} events" in err.message and "before any event" not in err.message


def test_a_body_failing_before_its_first_byte_names_the_status() -> None:
    driver = TurnDriver(ChatState())
    err = driver.failed_before_body(BodyFailedAfterStatusError("incomplete chunked read", status_code=200))
    assert isinstance(err, StreamEndedEarlyError) and driver.failure is err
    assert err.message.startswith("the server accepted the request (200) but its stream broke off before any event")
    assert "incomplete chunked read" in err.message and err.events_received == 0


# -- content type ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "shown"),
    [("application/json", "application/json"), ("", "no content type"), ("text/html", "text/html")],
)
def test_a_stream_that_is_not_sse_is_refused_before_any_byte(content_type: str, shown: str) -> None:
    driver = TurnDriver(ChatState())
    with pytest.raises(APIResponseValidationError, match=f"got {shown}; check that the URL points at a ChatKit"):
        driver.begin_round(content_type)


def test_a_refused_content_type_in_a_tool_round_keeps_the_first_round() -> None:
    state = ChatState()
    state.register_tool("get_weather", weather)
    driver = TurnDriver(state)
    driver.begin_round(SSE)
    driver.feed(wire(TURNS["tool_call"]))
    driver.end_round()
    step = driver.next_tool_round()
    assert step is not None
    with pytest.raises(APIResponseValidationError):
        driver.begin_round("text/plain")
    assert driver.reply().text == TEXT


# -- tool rounds ----------------------------------------------------------------------------------------


def tool_turn(state: ChatState, *, rounds: int, max_tool_rounds: int = 25) -> tuple[TurnDriver, list[dict[str, Any]]]:
    """Rounds that each end on a new client tool call; answers them all (or up to the cap)."""
    driver = TurnDriver(state, max_tool_rounds=max_tool_rounds)
    requests: list[dict[str, Any]] = []
    for n in range(rounds):
        driver.begin_round(SSE)
        objs = [*ANSWER, tool_call("call_0")] if n == 0 else [tool_call(f"call_{n}", item_id=f"cti_call_{n}")]
        driver.feed(wire(objs))
        driver.end_round()
        step = driver.next_tool_round()
        if step is None:
            break
        call, handler = step
        requests.append(driver.tool_output_request(call, tool_output(call, handler(dict(call.arguments)))))
    return driver, requests


def test_each_tool_round_answers_its_call_with_an_exact_request() -> None:
    state = ChatState()
    state.register_tool("get_weather", weather)
    driver, requests = tool_turn(state, rounds=3)
    assert requests == [
        {
            "type": "threads.add_client_tool_output",
            "params": {"thread_id": THREAD, "result": {"city": "Zürich", "temp": 21}},
        }
    ] * 3
    # The Reply learned each output (the server sends no event for it): nothing is pending.
    calls = driver.reply().client_tool_calls
    assert [c.call_id for c in calls] == ["call_0", "call_1", "call_2"]
    assert all(c.output == {"city": "Zürich", "temp": 21} for c in calls)
    assert driver.reply().pending_client_tool_call is None and driver.answered == {"call_0", "call_1", "call_2"}


def test_a_call_already_answered_is_not_answered_twice() -> None:
    state = ChatState()
    state.register_tool("get_weather", weather)
    driver = TurnDriver(state)
    driver.begin_round(SSE)
    driver.feed(wire([tool_call("call_same")]))
    driver.end_round()
    step = driver.next_tool_round()
    assert step is not None and step[1] is weather
    # The server repeats the same call (same call_id) without taking the output: the turn ends there.
    driver.begin_round(SSE)
    driver.feed(wire([tool_call("call_same", item_id="cti_again")]))
    driver.end_round()
    assert driver.next_tool_round() is None


def test_a_call_to_a_tool_the_chat_lacks_stays_pending_for_the_caller() -> None:
    state = ChatState()
    driver = TurnDriver(state)
    driver.begin_round(SSE)
    driver.feed(wire(TURNS["tool_call"]))
    driver.end_round()
    assert driver.next_tool_round() is None and driver.failure is None
    assert state.pending_call is not None and state.pending_call.call_id == "call_1"
    state.check_tool_output()  # a pending call: an output by hand is accepted


def test_max_tool_rounds_zero_refuses_the_first_call_and_leaves_it_pending() -> None:
    state = ChatState()
    state.register_tool("get_weather", weather)
    with pytest.raises(ToolRoundsExceededError) as caught:
        tool_turn(state, rounds=1, max_tool_rounds=0)
    failure = caught.value
    assert failure.max_tool_rounds == 0
    assert "more than 0 times" in failure.message and "'get_weather'" in failure.message
    assert failure.reply is not None and failure.reply.text == TEXT
    assert state.pending_call is not None and state.knows_last_turn is True


def test_the_cap_allows_exactly_max_tool_rounds_answers() -> None:
    state = ChatState()
    state.register_tool("get_weather", weather)
    with pytest.raises(ToolRoundsExceededError):
        tool_turn(state, rounds=6, max_tool_rounds=5)
    state = ChatState()
    state.register_tool("get_weather", weather)
    driver = TurnDriver(state, max_tool_rounds=5)
    answered = 0
    for n in range(6):
        driver.begin_round(SSE)
        last = n == 5
        objs = [delta(ASSISTANT, 0, "done")] if last else [tool_call(f"call_{n}", item_id=f"cti_{n}")]
        driver.feed(wire(objs))
        driver.end_round()
        step = driver.next_tool_round()
        if step is not None:
            driver.tool_output_request(step[0], {"n": n})
            answered += 1
    assert answered == 5 and driver.failure is None


def test_a_handler_error_and_an_unserialisable_result_become_error_outputs() -> None:
    call = ClientToolCallItem.model_validate(tool_call("call_x")["item"])
    assert tool_output(call, error=ValueError("no such city")) == {"error": "no such city"}
    assert tool_output(call, error=KeyError()) == {"error": "KeyError"}
    bad = tool_output(call, {"when": object()})
    assert isinstance(bad, dict) and "client tool 'get_weather' result" in bad["error"]
    assert "JSON-serialisable" in bad["error"]
    nan = tool_output(call, float("nan"))
    assert isinstance(nan, dict) and "Out of range float values" in nan["error"]


def test_an_error_event_after_a_tool_round_raises_with_the_whole_turn() -> None:
    state = ChatState()
    state.register_tool("get_weather", weather)
    driver = TurnDriver(state)
    driver.begin_round(SSE)
    driver.feed(wire(TURNS["tool_call"]))
    driver.end_round()
    step = driver.next_tool_round()
    assert step is not None
    driver.tool_output_request(step[0], "sunny")
    driver.begin_round(SSE)
    driver.feed(wire([ERROR]))
    driver.end_round()
    with pytest.raises(StreamError) as caught:
        driver.next_tool_round()
    assert caught.value.reply is not None and caught.value.reply.client_tool_calls[0].output == "sunny"
    assert driver.failure is caught.value and str(caught.value) == "stream.error: Le modèle a échoué 💥"
    # The turn ended (with an error): the Chat knows nothing is pending.
    assert state.knows_last_turn is True and state.pending_call is None


def test_the_tool_output_goes_to_the_thread_the_chat_knows_when_the_round_named_none() -> None:
    state = ChatState(thread_id="cthr_known")
    driver = TurnDriver(state)
    call = ClientToolCallItem.model_validate(tool_call("call_1")["item"])
    assert driver.tool_output_request(call, [1, "a"]) == {
        "type": "threads.add_client_tool_output",
        "params": {"thread_id": "cthr_known", "result": [1, "a"]},
    }


def test_allow_cancel_carries_over_rounds_until_the_server_says_otherwise() -> None:
    driver = TurnDriver(ChatState())
    assert driver.allow_cancel is None
    driver.begin_round(SSE)
    driver.feed(wire([{"type": "stream_options", "stream_options": {"allow_cancel": True}}]))
    driver.begin_round(SSE)
    driver.feed(wire([delta(ASSISTANT, 0, "x")]))
    assert driver.allow_cancel is True
    driver.begin_round(SSE)
    driver.feed(wire([{"type": "stream_options", "stream_options": {"allow_cancel": False}}]))
    assert driver.allow_cancel is False


def test_a_new_turn_starts_from_the_thread_the_chat_continues() -> None:
    state = ChatState()
    run([wire(ANSWER)], state)
    assert state.thread_id == THREAD and state.last_user_item_id == USER and state.knows_last_turn
    second = TurnDriver(state)
    assert second.reply().thread_id == THREAD and second.reply().thread is not None
    assert second.reply().thread.title == "Résumé 📄" and second.reply().items == []
    assert USER in state.items_seen and CALL not in state.items_seen
