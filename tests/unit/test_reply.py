"""Reply assembly: hosted turn order, interleaving, replacement, placeholders, tool rounds, linear cost."""

from __future__ import annotations

import json
from typing import Any

from chatkit_client._core.reply import Reply, ReplyBuilder
from chatkit_client.types import (
    AssistantMessageItem,
    ClientToolCallItem,
    ThreadStreamEvent,
    UnknownEvent,
    UserMessageItem,
    WidgetItem,
    WorkflowItem,
    parse_event,
)

THREAD_ID = "cthr_" + "0a" * 24
USER_ID = "cti_" + "01" * 24
WORKFLOW_ID = "cti_" + "02" * 24
ASSISTANT_ID = "cti_" + "03" * 24
OTHER_ID = "cti_" + "04" * 24


def event(obj: dict[str, Any]) -> ThreadStreamEvent:
    return parse_event(json.dumps(obj, separators=(",", ":")))


def build(*objs: dict[str, Any], keep_events: bool = False) -> Reply:
    builder = ReplyBuilder(keep_events=keep_events)
    for obj in objs:
        builder.apply(event(obj))
    return builder.reply()


def thread(title: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": THREAD_ID,
        "created_at": "2026-01-23T16:15:25.515839",
        "status": {"type": "active"},
        "metadata": {},
        "items": {"data": [], "has_more": False},
    }
    if title is not None:
        data["title"] = title
    return data


def item(item_id: str, kind: str, **fields: Any) -> dict[str, Any]:
    return {"id": item_id, "thread_id": THREAD_ID, "created_at": "2026-01-23T16:15:25.661034Z", "type": kind, **fields}


def added(item_id: str, kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": "thread.item.added", "item": item(item_id, kind, **fields)}


def done(item_id: str, kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": "thread.item.done", "item": item(item_id, kind, **fields)}


def update(item_id: str, kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": "thread.item.updated", "item_id": item_id, "update": {"type": kind, **fields}}


def part_added(item_id: str, index: int, text: str = "") -> dict[str, Any]:
    content = {"type": "output_text", "text": text, "annotations": []}
    return update(item_id, "assistant_message.content_part.added", content_index=index, content=content)


def delta(item_id: str, index: int, text: str) -> dict[str, Any]:
    return update(item_id, "assistant_message.content_part.text_delta", content_index=index, delta=text)


def part_done(item_id: str, index: int, text: str) -> dict[str, Any]:
    content = {"type": "output_text", "text": text, "annotations": []}
    return update(item_id, "assistant_message.content_part.done", content_index=index, content=content)


def output(*texts: str) -> list[dict[str, Any]]:
    return [{"type": "output_text", "text": text, "annotations": []} for text in texts]


HOSTED_TURN = [
    {"type": "thread.created", "thread": thread()},
    done(
        USER_ID,
        "user_message",
        content=[{"type": "input_text", "text": "Bonjour, résume ce document"}],
        attachments=[
            {
                "id": "cfile_" + "05" * 24,
                "name": "test.pdf",
                "mime_type": "application/pdf",
                "upload_url": "https://api.openai.com/v1/chatkit/files/cfile_" + "05" * 24,
                "type": "file",
            }
        ],
        quoted_text="",
        inference_options={},
    ),
    {"type": "progress_update", "icon": "document", "text": "Looking up test.pdf"},
    added(WORKFLOW_ID, "workflow", workflow={"type": "reasoning", "tasks": [], "expanded": False}, response_items=[]),
    done(
        WORKFLOW_ID,
        "workflow",
        workflow={"type": "reasoning", "tasks": [], "expanded": False, "summary": {"duration": 4}},
        response_items=[],
    ),
    added(ASSISTANT_ID, "assistant_message", content=[]),
    part_added(ASSISTANT_ID, 0),
    delta(ASSISTANT_ID, 0, "Bonjour ! "),
    delta(ASSISTANT_ID, 0, "Le document "),
    {"type": "thread.updated", "thread": thread("Résumé du document")},
    delta(ASSISTANT_ID, 0, "parle de chats."),
    part_done(ASSISTANT_ID, 0, "Bonjour ! Le document parle de chats."),
    done(ASSISTANT_ID, "assistant_message", content=output("Bonjour ! Le document parle de chats.")),
]


def test_observed_hosted_turn_order() -> None:
    reply = build(*HOSTED_TURN)
    assert reply.thread_id == THREAD_ID
    assert reply.thread is not None and reply.thread.title == "Résumé du document"
    assert [item.id for item in reply.items] == [USER_ID, WORKFLOW_ID, ASSISTANT_ID]
    assert isinstance(reply.user_message, UserMessageItem)
    assert reply.user_message.text == "Bonjour, résume ce document"
    assert reply.user_message.attachments[0].name == "test.pdf"
    assert isinstance(reply.items[1], WorkflowItem) and reply.workflows == [reply.items[1]]
    assert reply.workflows[0].workflow.summary is not None
    assert reply.workflows[0].workflow.summary.duration == 4
    assert [message.id for message in reply.assistant_messages] == [ASSISTANT_ID]
    assert reply.text == "Bonjour ! Le document parle de chats."
    assert [p.text for p in reply.progress] == ["Looking up test.pdf"]
    assert reply.errors == [] and reply.notices == [] and reply.effects == []
    assert reply.client_tool_calls == [] and reply.widgets == []
    assert reply.pending_client_tool_call is None
    assert reply.events is None


def test_every_partial_reply_of_the_hosted_turn_is_consistent() -> None:
    builder = ReplyBuilder()
    texts = []
    for obj in HOSTED_TURN:
        builder.apply(event(obj))
        texts.append(builder.reply().text)
    assert texts[6:12] == [
        "",
        "Bonjour ! ",
        "Bonjour ! Le document ",
        "Bonjour ! Le document ",
        "Bonjour ! Le document parle de chats.",
        "Bonjour ! Le document parle de chats.",
    ]
    assert builder.thread_id == THREAD_ID


def test_a_snapshot_does_not_change_when_more_events_arrive() -> None:
    builder = ReplyBuilder()
    for obj in HOSTED_TURN[:9]:
        builder.apply(event(obj))
    early = builder.reply()
    for obj in HOSTED_TURN[9:]:
        builder.apply(event(obj))
    assert early.text == "Bonjour ! Le document "
    assert early.thread is not None and early.thread.title is None
    assert builder.reply().text == "Bonjour ! Le document parle de chats."


def test_interleaved_messages_and_content_indexes() -> None:
    reply = build(
        added(ASSISTANT_ID, "assistant_message", content=[]),
        added(OTHER_ID, "assistant_message", content=[]),
        part_added(ASSISTANT_ID, 0),
        part_added(OTHER_ID, 0),
        part_added(ASSISTANT_ID, 1),
        delta(ASSISTANT_ID, 1, "A1-"),
        delta(OTHER_ID, 0, "B0-"),
        delta(ASSISTANT_ID, 0, "A0-"),
        delta(OTHER_ID, 0, "more"),
        delta(ASSISTANT_ID, 1, "end"),
        delta(ASSISTANT_ID, 0, "end"),
    )
    first, second = reply.assistant_messages
    assert first.id == ASSISTANT_ID and [part.text for part in first.content] == ["A0-end", "A1-end"]
    assert second.id == OTHER_ID and [part.text for part in second.content] == ["B0-more"]
    assert reply.text == "A0-end\n\nA1-end\n\nB0-more"


def test_done_sets_the_final_state_over_deltas() -> None:
    reply = build(
        added(ASSISTANT_ID, "assistant_message", content=[]),
        part_added(ASSISTANT_ID, 0),
        delta(ASSISTANT_ID, 0, "draft"),
        done(ASSISTANT_ID, "assistant_message", content=output("final", "second")),
    )
    assert reply.text == "final\n\nsecond"
    assert len(reply.items) == 1


def test_content_part_done_replaces_that_part_only() -> None:
    reply = build(
        added(ASSISTANT_ID, "assistant_message", content=[]),
        part_added(ASSISTANT_ID, 0),
        part_added(ASSISTANT_ID, 1),
        delta(ASSISTANT_ID, 0, "typo"),
        delta(ASSISTANT_ID, 1, "kept"),
        part_done(ASSISTANT_ID, 0, "fixed"),
    )
    assert [part.text for part in reply.assistant_messages[0].content] == ["fixed", "kept"]


def test_replaced_and_removed_items() -> None:
    reply = build(
        added(ASSISTANT_ID, "assistant_message", content=output("old")),
        added(OTHER_ID, "assistant_message", content=output("doomed")),
        done(USER_ID, "user_message", content=[{"type": "input_text", "text": "q"}]),
        {"type": "thread.item.replaced", "item": item(ASSISTANT_ID, "assistant_message", content=output("new"))},
        {"type": "thread.item.removed", "item_id": OTHER_ID},
        {"type": "thread.item.removed", "item_id": "cti_never_seen"},
    )
    assert [item.id for item in reply.items] == [ASSISTANT_ID, USER_ID]
    assert reply.text == "new"


def test_removed_then_added_again_moves_to_the_end() -> None:
    reply = build(
        added(ASSISTANT_ID, "assistant_message", content=output("a")),
        added(OTHER_ID, "assistant_message", content=output("b")),
        {"type": "thread.item.removed", "item_id": ASSISTANT_ID},
        added(ASSISTANT_ID, "assistant_message", content=output("a2")),
    )
    assert [item.id for item in reply.items] == [OTHER_ID, ASSISTANT_ID]
    assert reply.text == "b\n\na2"


def test_duplicate_added_and_done_replace_in_place() -> None:
    reply = build(
        added(ASSISTANT_ID, "assistant_message", content=output("1")),
        done(USER_ID, "user_message", content=[]),
        added(ASSISTANT_ID, "assistant_message", content=output("2")),
        done(ASSISTANT_ID, "assistant_message", content=output("3")),
        done(ASSISTANT_ID, "assistant_message", content=output("4")),
    )
    assert [item.id for item in reply.items] == [ASSISTANT_ID, USER_ID]
    assert reply.text == "4"


def test_delta_for_an_unannounced_item_creates_a_placeholder() -> None:
    reply = build(
        {"type": "thread.created", "thread": thread()},
        delta(ASSISTANT_ID, 0, "no "),
        delta(ASSISTANT_ID, 0, "text lost"),
    )
    (message,) = reply.items
    assert isinstance(message, AssistantMessageItem)
    assert message.id == ASSISTANT_ID and message.thread_id == THREAD_ID and message.created_at is None
    assert reply.text == "no text lost"
    # The real item arriving later takes over the same slot.
    builder = ReplyBuilder()
    builder.apply(event(delta(ASSISTANT_ID, 0, "x")))
    builder.apply(event(done(ASSISTANT_ID, "assistant_message", content=output("x!"))))
    final = builder.reply()
    assert len(final.items) == 1 and final.text == "x!" and final.items[0].created_at is not None


def test_text_arriving_before_its_part_is_announced_is_kept() -> None:
    reply = build(
        added(ASSISTANT_ID, "assistant_message", content=[]),
        delta(ASSISTANT_ID, 2, "early "),
        update(
            ASSISTANT_ID,
            "assistant_message.content_part.added",
            content_index=2,
            content={"type": "output_text", "text": "", "annotations": [], "extra": 1},
        ),
        delta(ASSISTANT_ID, 2, "late"),
    )
    # Parts are kept by content index and listed in index order; the gap before index 2 is not filled.
    parts = reply.assistant_messages[0].content
    assert [part.text for part in parts] == ["early late"]
    assert parts[0].model_extra == {"extra": 1}
    assert reply.text == "early late"


def test_bad_indexes_are_ignored_without_error() -> None:
    reply = build(
        added(ASSISTANT_ID, "assistant_message", content=output("ok")),
        delta(ASSISTANT_ID, -1, "negative"),
        added(WORKFLOW_ID, "workflow", workflow={"type": "custom", "tasks": []}),
        delta(WORKFLOW_ID, 0, "not an assistant message"),
    )
    assert reply.text == "ok"
    assert len(reply.assistant_messages[0].content) == 1


def test_a_far_index_keeps_its_text_without_allocating_the_gap() -> None:
    reply = build(
        added(ASSISTANT_ID, "assistant_message", content=output("ok")),
        delta(ASSISTANT_ID, 10**9, "far away"),
    )
    assert reply.text == "ok\n\nfar away"
    assert len(reply.assistant_messages[0].content) == 2


def test_annotations_workflow_tasks_and_widget_updates() -> None:
    reply = build(
        added(ASSISTANT_ID, "assistant_message", content=[]),
        part_added(ASSISTANT_ID, 0),
        update(
            ASSISTANT_ID,
            "assistant_message.content_part.annotation_added",
            content_index=0,
            annotation_index=0,
            annotation={"type": "annotation", "source": {"type": "url", "url": "https://a", "title": "A"}},
        ),
        added(WORKFLOW_ID, "workflow", workflow={"type": "reasoning", "tasks": []}),
        update(WORKFLOW_ID, "workflow.task.added", task_index=0, task={"type": "thought", "content": "hmm"}),
        update(WORKFLOW_ID, "workflow.task.added", task_index=1, task={"type": "web_search", "queries": ["q"]}),
        update(WORKFLOW_ID, "workflow.task.updated", task_index=0, task={"type": "thought", "content": "aha"}),
        added(OTHER_ID, "widget", widget={"type": "Card", "children": []}),
        update(OTHER_ID, "widget.root.updated", widget={"type": "ListView", "children": []}),
        update(OTHER_ID, "widget.streaming_text.value_delta", component_id="c", delta="x", done=False),
        update(OTHER_ID, "some.future.update", anything=True),
    )
    annotation = reply.assistant_messages[0].content[0].annotations[0]
    assert annotation.source is not None and annotation.source.url == "https://a"
    tasks = reply.workflows[0].workflow.tasks
    assert [(task.type, task.content) for task in tasks] == [("thought", "aha"), ("web_search", None)]
    assert tasks[1].queries == ["q"]
    assert isinstance(reply.widgets[0], WidgetItem) and reply.widgets[0].widget["type"] == "ListView"


def test_workflow_updates_do_not_leak_into_earlier_snapshots() -> None:
    builder = ReplyBuilder()
    builder.apply(event(added(WORKFLOW_ID, "workflow", workflow={"type": "reasoning", "tasks": []})))
    before = builder.reply()
    builder.apply(event(update(WORKFLOW_ID, "workflow.task.added", task_index=0, task={"type": "thought"})))
    assert before.workflows[0].workflow.tasks == []
    assert len(builder.reply().workflows[0].workflow.tasks) == 1


def test_events_lists_and_ignored_events() -> None:
    objs: list[dict[str, Any]] = [
        {"type": "stream_options", "stream_options": {"allow_cancel": True}},
        {"type": "notice", "level": "warning", "message": "Slow down"},
        {"type": "client_effect", "name": "refresh", "data": {"a": 1}},
        {"type": "brand_new_event", "x": 1},
        {"type": "error", "code": "stream.error", "allow_retry": True},
    ]
    reply = build(*objs, keep_events=True)
    assert [notice.message for notice in reply.notices] == ["Slow down"]
    assert [effect.name for effect in reply.effects] == ["refresh"]
    assert [(error.code, error.allow_retry) for error in reply.errors] == [("stream.error", True)]
    assert reply.events is not None
    assert [e.type for e in reply.events] == [obj["type"] for obj in objs]
    assert isinstance(reply.events[3], UnknownEvent)
    assert reply.items == [] and reply.thread_id is None and reply.text == ""
    assert build(*objs).events is None


def test_thread_id_comes_from_items_when_no_thread_event_arrives() -> None:
    # Follow-up turns (threads.add_user_message) do not send thread.created.
    reply = build(done(USER_ID, "user_message", content=[{"type": "input_text", "text": "again"}]))
    assert reply.thread_id == THREAD_ID and reply.thread is None


def test_client_tool_call_rounds_feed_one_builder() -> None:
    builder = ReplyBuilder()
    first_round = [
        {"type": "thread.created", "thread": thread()},
        done(USER_ID, "user_message", content=[{"type": "input_text", "text": "Weather in Paris?"}]),
        done(
            OTHER_ID,
            "client_tool_call",
            status="pending",
            call_id="call_1",
            name="get_weather",
            arguments={"city": "Paris"},
        ),
    ]
    for obj in first_round:
        builder.apply(event(obj))
    reply = builder.reply()
    call = reply.pending_client_tool_call
    assert isinstance(call, ClientToolCallItem)
    assert (call.name, call.arguments, call.call_id) == ("get_weather", {"city": "Paris"}, "call_1")
    assert reply.text == ""

    builder.record_client_tool_output(call.id, {"temp_c": 21})
    for obj in [
        added(ASSISTANT_ID, "assistant_message", content=[]),
        part_added(ASSISTANT_ID, 0),
        delta(ASSISTANT_ID, 0, "It is 21°C."),
        done(ASSISTANT_ID, "assistant_message", content=output("It is 21°C.")),
    ]:
        builder.apply(event(obj))
    final = builder.reply()
    assert final.pending_client_tool_call is None
    assert final.client_tool_calls[0].status == "completed"
    assert final.client_tool_calls[0].output == {"temp_c": 21}
    assert [item.id for item in final.items] == [USER_ID, OTHER_ID, ASSISTANT_ID]
    assert final.user_message is not None and final.user_message.text == "Weather in Paris?"
    assert final.text == "It is 21°C."
    assert final.thread_id == THREAD_ID
    # The first round's snapshot still shows the call as pending.
    assert reply.pending_client_tool_call is not None


def test_pending_tool_call_picks_the_last_unanswered_one() -> None:
    call = {"call_id": "c", "name": "n", "arguments": {}}
    reply = build(
        done("cti_a", "client_tool_call", status="pending", **call),
        done("cti_b", "client_tool_call", status="in_progress", **call),
        done("cti_c", "client_tool_call", status="completed", output=1, **call),
    )
    pending = reply.pending_client_tool_call
    assert pending is not None and pending.id == "cti_b"
    answered = build(done("cti_a", "client_tool_call", status="pending", output="done", **call))
    assert answered.pending_client_tool_call is None


def test_repr_is_short_and_informative() -> None:
    reply = build(*HOSTED_TURN)
    text = repr(reply)
    assert text.startswith("Reply(thread_id=" + repr(THREAD_ID))
    assert "Bonjour ! Le document" in text and "items=3" in text and "errors=0" in text
    long = build(added(ASSISTANT_ID, "assistant_message", content=output("y" * 10_000)))
    assert len(repr(long)) < 250


def test_100000_deltas_are_joined_once_not_per_delta() -> None:
    builder = ReplyBuilder()
    builder.apply(event(added(ASSISTANT_ID, "assistant_message", content=[])))
    builder.apply(event(part_added(ASSISTANT_ID, 0)))
    pieces = [f"{i % 10}" for i in range(100_000)]
    for piece in pieces:
        builder.apply(event(delta(ASSISTANT_ID, 0, piece)))

    # Structural check: every delta was appended as its own chunk; nothing was concatenated yet.
    part = builder._entries[ASSISTANT_ID].parts[0]  # type: ignore[index]
    assert len(part.chunks) == 100_000
    assert part.joins == 0

    reply = builder.reply()
    assert reply.text == "".join(pieces)
    assert part.joins == 1 and len(part.chunks) == 1

    # Reading again joins nothing new; more deltas cost one more join of the tail only.
    assert builder.reply().text == reply.text
    assert part.joins == 1
    builder.apply(event(delta(ASSISTANT_ID, 0, "!")))
    assert len(part.chunks) == 2
    assert builder.reply().text == reply.text + "!"
    assert part.joins == 2
