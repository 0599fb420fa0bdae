"""The I/O-free core under hostile input: ReplyBuilder bounds, SessionState's clock and single flight,
ChatState's local refusals, TurnDriver's early-end and tool-round errors, the event depth limit."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from chatkit_client import (
    APIResponseValidationError,
    ChatKitError,
    InvalidInputError,
    StreamDecodeError,
    StreamEndedEarlyError,
    StreamError,
    StreamInterruptedError,
    ToolRoundsExceededError,
)
from chatkit_client._core.chat import ChatState, TurnDriver
from chatkit_client._core.reply import MAX_CONTENT_PARTS, MAX_ITEMS, PROGRESS_HISTORY, ReplyBuilder
from chatkit_client._core.session import SessionState
from chatkit_client.types import ChatSession, Thread, ThreadStreamEvent, parse_event, parse_item
from chatkit_client.types._events import MAX_EVENT_DEPTH

THREAD_ID = "thr_core"
MSG = "msg_core"
WF = "wf_item"


def ev(obj: dict[str, Any]) -> ThreadStreamEvent:
    return parse_event(json.dumps(obj, separators=(",", ":")))


def sse(*objs: dict[str, Any]) -> bytes:
    return b"".join(b"data: " + json.dumps(obj).encode() + b"\n\n" for obj in objs)


def item(item_id: str, kind: str, **fields: Any) -> dict[str, Any]:
    return {"id": item_id, "thread_id": THREAD_ID, "created_at": 0, "type": kind, **fields}


def delta(index: int, text: str, item_id: str = MSG) -> dict[str, Any]:
    update = {"type": "assistant_message.content_part.text_delta", "content_index": index, "delta": text}
    return {"type": "thread.item.updated", "item_id": item_id, "update": update}


def task_added(index: int) -> dict[str, Any]:
    update = {"type": "workflow.task.added", "task_index": index, "task": {"type": "thought", "content": f"t{index}"}}
    return {"type": "thread.item.updated", "item_id": WF, "update": update}


def thread_obj(title: str | None = None) -> dict[str, Any]:
    return {"id": THREAD_ID, "created_at": 0, "status": {"type": "active"}, "metadata": {}, "title": title}


# -- item 12: content-index amplification -----------------------------------------------------------------


def test_2000_deltas_jumping_1000_indexes_allocate_2000_parts_not_two_million() -> None:
    builder = ReplyBuilder()
    builder.apply(ev({"type": "thread.item.added", "item": item(MSG, "assistant_message", content=[])}))
    for n in range(2000):
        builder.apply(ev(delta(n * 1000, "x")))
    entry = builder._entries[MSG]
    assert entry.parts is not None and len(entry.parts) == 2000
    assert builder._parts_total == 2000
    reply = builder.reply()
    assert len(reply.assistant_messages[0].content) == 2000
    assert reply.text == "\n\n".join(["x"] * 2000)


def test_content_parts_are_bounded_per_turn_with_the_partial_reply_kept() -> None:
    builder = ReplyBuilder()
    with pytest.raises(StreamDecodeError, match="MAX_CONTENT_PARTS"):
        for n in range(MAX_CONTENT_PARTS + 1):
            builder.apply(ev(delta(n, "y")))
    assert builder._parts_total == MAX_CONTENT_PARTS


def test_placeholder_items_are_bounded_per_turn() -> None:
    builder = ReplyBuilder()
    with pytest.raises(StreamDecodeError, match="MAX_ITEMS"):
        for n in range(MAX_ITEMS + 1):
            builder.apply(ev(delta(0, "z", item_id=f"msg_{n}")))
    assert len(builder._entries) == MAX_ITEMS


def test_a_limit_error_from_the_stream_carries_the_partial_reply() -> None:
    driver = TurnDriver(ChatState())
    driver.begin_round("text/event-stream")
    driver.feed(sse({"type": "thread.created", "thread": thread_obj()}))
    body = sse(*[delta(n, "w") for n in range(MAX_CONTENT_PARTS + 1)])
    with pytest.raises(StreamDecodeError, match="MAX_CONTENT_PARTS") as caught:
        driver.feed(body)
    assert caught.value.reply is not None and caught.value.reply.thread_id == THREAD_ID


# -- item 14: progress flood --------------------------------------------------------------------------------


def test_progress_keeps_the_latest_and_a_bounded_history() -> None:
    builder = ReplyBuilder()
    for n in range(PROGRESS_HISTORY * 50):
        builder.apply(ev({"type": "progress_update", "text": f"step {n}"}))
    reply = builder.reply()
    assert len(reply.progress) == PROGRESS_HISTORY
    assert reply.progress[-1].text == f"step {PROGRESS_HISTORY * 50 - 1}"
    assert reply.progress[0].text == f"step {PROGRESS_HISTORY * 49}"


# -- item 20: workflow tasks in place ---------------------------------------------------------------------


def test_workflow_task_events_append_in_place_and_copy_only_when_read() -> None:
    builder = ReplyBuilder()
    builder.apply(ev({"type": "thread.item.added", "item": item(WF, "workflow", workflow={"tasks": []})}))
    entry = builder._entries[WF]
    tasks = entry.tasks
    for n in range(5000):
        builder.apply(ev(task_added(n)))
    # The same list grew: no event copied the list or rebuilt the item.
    assert entry.tasks is tasks and tasks is not None and len(tasks) == 5000
    assert entry.rebuilds == 0
    workflow = builder.reply().workflows[0].workflow
    assert [task.content for task in workflow.tasks[:2]] == ["t0", "t1"] and len(workflow.tasks) == 5000
    assert entry.rebuilds == 1
    builder.reply()
    assert entry.rebuilds == 1


# -- issue 8: reply.thread on every turn ------------------------------------------------------------------


def test_a_turn_without_thread_events_carries_the_thread_the_chat_knows() -> None:
    state = ChatState()
    first = TurnDriver(state)
    first.begin_round("text/event-stream")
    first.feed(sse({"type": "thread.created", "thread": thread_obj("Titled")}))
    first.end_round()
    assert first.next_tool_round() is None
    second = TurnDriver(state)
    second.begin_round("text/event-stream")
    second.feed(sse({"type": "thread.item.done", "item": item(MSG, "assistant_message", content=[])}))
    second.end_round()
    second.next_tool_round()
    reply = second.reply()
    assert isinstance(reply.thread, Thread) and reply.thread.title == "Titled" and reply.thread_id == THREAD_ID
    state.reset()
    assert TurnDriver(state).reply().thread is None


# -- item 4 / issue 8: a 2xx stream with no event ---------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "encoding", "hint"),
    [
        (b"", None, "the body was empty"),
        (b"\x00\xff\x13junk\r\n\x8b", None, "held no event"),
        (b"\x1b\x00\x00\x08\x00binary", "br", "Content-Encoding: br"),
    ],
)
def test_a_round_without_any_event_raises_stream_ended_early(body: bytes, encoding: str | None, hint: str) -> None:
    driver = TurnDriver(ChatState())
    driver.begin_round("text/event-stream", {"content-encoding": encoding} if encoding else {})
    driver.feed(body)
    with pytest.raises(StreamEndedEarlyError, match="no answer arrived") as caught:
        driver.end_round()
    assert hint in caught.value.message and "not sent again" in caught.value.message
    assert isinstance(caught.value, StreamInterruptedError) and caught.value.events_received == 0
    assert caught.value.reply is not None and driver.failure is caught.value


# -- item 16: tool rounds ---------------------------------------------------------------------------------


def test_tool_rounds_past_the_cap_raise_with_the_reply() -> None:
    state = ChatState()
    state.register_tool("loop", lambda args: {"ok": False})
    driver = TurnDriver(state, max_tool_rounds=3)
    for n in range(4):
        driver.begin_round("text/event-stream")
        call = item(f"call_item_{n}", "client_tool_call", name="loop", arguments={}, call_id=f"c{n}", status="pending")
        driver.feed(sse({"type": "thread.item.done", "item": call}))
        driver.end_round()
        if n < 3:
            found = driver.next_tool_round()
            assert found is not None
            driver.tool_output_request(found[0], {"ok": False})
    with pytest.raises(ToolRoundsExceededError, match="max_tool_rounds") as caught:
        driver.next_tool_round()
    assert caught.value.max_tool_rounds == 3
    assert caught.value.reply is not None and len(caught.value.reply.client_tool_calls) == 4
    # The unanswered call stays pending, so the user may still answer it by hand.
    assert state.pending_call is not None and state.pending_call.call_id == "c3"


# -- issue 8: refuse locally ------------------------------------------------------------------------------


def test_a_tool_output_is_refused_only_when_the_chat_knows_nothing_is_pending() -> None:
    state = ChatState(thread_id=THREAD_ID)
    state.check_tool_output()  # never saw a turn: cannot know, so it sends
    driver = TurnDriver(state)
    driver.begin_round("text/event-stream")
    driver.feed(sse({"type": "thread.item.done", "item": item(MSG, "assistant_message", content=[])}))
    driver.end_round()
    driver.next_tool_round()
    with pytest.raises(InvalidInputError, match="no client tool call is waiting"):
        state.check_tool_output()


def test_a_structured_input_answer_is_refused_for_items_known_not_to_be_pending_ones() -> None:
    state = ChatState(thread_id=THREAD_ID)
    driver = TurnDriver(state)
    driver.begin_round("text/event-stream")
    asked = item("si_1", "structured_input", status="pending", inputs=[])
    answered = item("si_2", "structured_input", status="answered", inputs=[])
    message = item(MSG, "assistant_message", content=[])
    driver.feed(sse(*({"type": "thread.item.done", "item": obj} for obj in (asked, answered, message))))
    driver.end_round()
    driver.next_tool_round()
    state.check_structured_input("si_1")
    state.check_structured_input("never_seen")
    with pytest.raises(InvalidInputError, match="already answered"):
        state.check_structured_input("si_2")
    with pytest.raises(InvalidInputError, match="assistant_message"):
        state.check_structured_input(MSG)


# -- issue 8: .message everywhere -------------------------------------------------------------------------


def test_every_chatkit_error_has_a_message_and_stream_error_has_the_servers() -> None:
    err = StreamError("Scripted error", code="custom", allow_retry=True)
    assert err.message == "Scripted error" and err.error_message == "Scripted error"
    assert str(err) == "custom: Scripted error"
    silent = StreamError(None, code=None)
    assert silent.error_message is None and silent.message
    assert InvalidInputError("files", "bad").message == "files: bad"
    assert ChatKitError("plain").message == "plain"
    assert StreamEndedEarlyError("ended").message == "ended"


# -- item 17: single flight -------------------------------------------------------------------------------


def test_waiters_share_the_failure_of_the_attempt_that_ran_while_they_waited() -> None:
    state = SessionState(params={"user": "u", "workflow": "wf"})
    waiter = state.ticket()
    state.attempt_failed(RuntimeError("503"))
    shared = state.shared_failure(waiter)
    assert isinstance(shared, RuntimeError)
    # A caller arriving after that attempt tries again itself.
    assert state.shared_failure(state.ticket()) is None


# -- item 19: clock skew ----------------------------------------------------------------------------------


def session(expires_at: int) -> ChatSession:
    return ChatSession(id="cksess_1", client_secret="ek_test_secret", expires_at=expires_at)


def test_a_clock_an_hour_ahead_does_not_renew_a_fresh_session_with_a_date_header() -> None:
    server_now = 1_800_000_000
    local = [server_now + 3600.0]
    state = SessionState(params={"user": "u", "workflow": "wf"}, clock=lambda: local[0])
    state.install(
        session(server_now + 600), date_header=time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(server_now))
    )
    assert not state.needs_session()
    local[0] += 500
    assert not state.needs_session()
    local[0] += 90  # 590 s in: within the renewal margin of the server's expiry
    assert state.needs_session()


def test_without_a_date_a_session_born_expired_teaches_the_offset_from_its_lifetime() -> None:
    server_now = 1_800_000_000
    local = [server_now + 7200.0]
    params = {"user": "u", "workflow": "wf", "expires_after": {"anchor": "created_at", "seconds": 300}}
    state = SessionState(params=params, clock=lambda: local[0])
    state.install(session(server_now + 300))
    assert not state.needs_session()
    local[0] += 290
    assert state.needs_session()


def test_a_correct_clock_still_renews_near_expiry() -> None:
    now = [1_800_000_000.0]
    state = SessionState(params={"user": "u", "workflow": "wf"}, clock=lambda: now[0])
    state.install(
        session(int(now[0]) + 600), date_header=time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now[0]))
    )
    assert state.clock_offset == 0.0 and not state.needs_session()
    now[0] += 580
    assert state.needs_session()


# -- item 24: nesting depth -------------------------------------------------------------------------------


def nested_widget_event(depth: int) -> str:
    inner = '{"type":"Text","value":"x"}'
    widget = '{"type":"Box","children":[' * depth + inner + "]}" * depth
    item_json = f'{{"id":"w1","thread_id":"t","created_at":0,"type":"widget","widget":{widget}}}'
    return f'{{"type":"thread.item.done","item":{item_json}}}'


def test_a_700_level_widget_is_refused_naming_the_limit() -> None:
    with pytest.raises(StreamDecodeError, match="MAX_EVENT_DEPTH"):
        parse_event(nested_widget_event(700))
    with pytest.raises(StreamDecodeError, match="MAX_EVENT_DEPTH"):
        parse_event(nested_widget_event(700).encode())


def test_a_widget_within_the_limit_dumps_and_brackets_inside_strings_do_not_count() -> None:
    deep_ok = parse_event(nested_widget_event((MAX_EVENT_DEPTH - 4) // 2))
    json.dumps(deep_ok.model_dump(mode="json"))
    text = json.dumps({"type": "progress_update", "text": "{[" * 5000})
    assert parse_event(text).type == "progress_update"


def test_a_700_level_widget_item_from_a_page_is_refused_as_dict_and_as_rest_json_string() -> None:
    widget: dict[str, Any] = {"type": "Text"}
    for _ in range(700):
        widget = {"type": "Box", "children": [widget]}
    as_dict = {"id": "w", "thread_id": "t", "created_at": 0, "type": "widget", "widget": widget}
    with pytest.raises(APIResponseValidationError, match="MAX_NESTING_DEPTH"):
        parse_item(as_dict)
    # REST sends the widget as a JSON string (deep enough to fail, shallow enough for json.loads).
    text = '{"type":"Box","children":[' * 150 + '{"type":"Text"}' + "]}" * 150
    as_string = {**as_dict, "type": "chatkit.widget", "widget": text}
    with pytest.raises(APIResponseValidationError, match="MAX_NESTING_DEPTH"):
        parse_item(as_string)
    shallow = parse_item({**as_dict, "widget": {"type": "Card", "children": [{"type": "Text"}]}})
    json.dumps(shallow.model_dump(mode="json"))
