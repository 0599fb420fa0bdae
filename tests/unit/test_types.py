"""Parsing of ChatKit models: both item spellings, timestamps, unknown types and every decode error path."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chatkit_client.types as types_module
from chatkit_client._exceptions import APIResponseValidationError, StreamDecodeError
from chatkit_client.types import (
    AssistantMessageContentPartAdded,
    AssistantMessageContentPartAnnotationAdded,
    AssistantMessageContentPartDone,
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    ChatKitThread,
    ChatSession,
    ClientEffectEvent,
    ClientToolCallItem,
    EndOfTurnItem,
    ErrorEvent,
    GeneratedImageItem,
    GeneratedImageUpdated,
    NoticeEvent,
    Page,
    ProgressUpdateEvent,
    StreamOptionsEvent,
    TaskGroupItem,
    TaskItem,
    Thread,
    ThreadCreatedEvent,
    ThreadDeleted,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemRemovedEvent,
    ThreadItemReplacedEvent,
    ThreadItemUpdatedEvent,
    ThreadUpdatedEvent,
    UnknownEvent,
    UnknownItem,
    UnknownUpdate,
    UploadedFile,
    UserMessageItem,
    WidgetComponentUpdated,
    WidgetItem,
    WidgetRootUpdated,
    WidgetStreamingTextValueDelta,
    WorkflowItem,
    WorkflowTaskAdded,
    WorkflowTaskUpdated,
    parse_event,
    parse_item,
    parse_update,
)

SECRET = "ek_68e7a3f1b2c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6_00eyJleHBpcmVzX2F0IjogMTc2MDA0NTcxNX0="
THREAD_ID = "cthr_" + "1" * 48
ITEM_ID = "cti_" + "2" * 48


def compact(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


# --- timestamps -------------------------------------------------------------------------------------

EXPECTED = datetime(2026, 1, 23, 16, 15, 25, 515839, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (1769184925.515839, EXPECTED),
        (1769184925, EXPECTED.replace(microsecond=0)),
        ("1769184925", EXPECTED.replace(microsecond=0)),
        ("2026-01-23T16:15:25.515839", EXPECTED),
        ("2026-01-23T16:15:25.515839Z", EXPECTED),
        ("2026-01-23T17:15:25.515839+01:00", EXPECTED),
        (datetime(2026, 1, 23, 16, 15, 25, 515839), EXPECTED),
        (datetime(2026, 1, 23, 11, 15, 25, 515839, tzinfo=timezone(timedelta(hours=-5))), EXPECTED),
    ],
)
def test_timestamps_are_always_aware(raw: object, expected: datetime) -> None:
    thread = ChatKitThread.model_validate({"id": THREAD_ID, "created_at": raw})
    assert thread.created_at is not None
    assert thread.created_at.tzinfo is not None
    assert thread.created_at == expected
    assert abs((thread.created_at - expected).total_seconds()) < 1e-5


@pytest.mark.parametrize("raw", ["yesterday", True, 10**20, [2026], "2026-13-45T00:00:00"])
def test_bad_timestamps_are_validation_errors(raw: object) -> None:
    with pytest.raises(APIResponseValidationError, match="created_at"):
        parse_item({"id": ITEM_ID, "type": "end_of_turn", "created_at": raw})


# --- sessions ---------------------------------------------------------------------------------------

SESSION = {
    "id": "cksess_" + "a" * 48,
    "object": "chatkit.session",
    "client_secret": SECRET,
    "expires_at": 1760045715,
    "workflow": {"id": "wf_123", "version": None, "state_variables": None, "tracing": {"enabled": True}},
    "user": "user_789",
    "rate_limits": {"max_requests_per_1_minute": 10},
    "max_requests_per_1_minute": 10,
    "status": "active",
    "chatkit_configuration": {
        "automatic_thread_titling": {"enabled": True},
        "file_upload": {"enabled": False, "max_file_size": 512, "max_files": 10},
        "history": {"enabled": True, "recent_threads": None},
    },
    "brand_new_field": {"x": 1},
}


def test_chat_session_parses_the_documented_shape() -> None:
    session = ChatSession.model_validate(SESSION)
    assert session.client_secret == SECRET
    assert session.expires_at == 1760045715
    assert session.workflow is not None and session.workflow.id == "wf_123"
    assert session.workflow.tracing is not None and session.workflow.tracing.enabled is True
    assert session.chatkit_configuration is not None
    assert session.chatkit_configuration.file_upload is not None
    assert session.chatkit_configuration.file_upload.max_file_size == 512
    assert session.rate_limits is not None and session.rate_limits.max_requests_per_1_minute == 10
    assert session.model_extra == {"brand_new_field": {"x": 1}}
    assert session.model_dump()["brand_new_field"] == {"x": 1}
    assert session.model_dump()["client_secret"] == SECRET


def test_chat_session_needs_only_id_secret_and_expiry() -> None:
    session = ChatSession.model_validate({"id": "cksess_1", "client_secret": SECRET, "expires_at": 5})
    assert session.status is None and session.workflow is None
    with pytest.raises(ValueError):
        ChatSession.model_validate({"id": "cksess_1", "expires_at": 5})


def test_chat_session_repr_and_str_hide_the_secret() -> None:
    session = ChatSession.model_validate(SESSION)
    for text in (repr(session), str(session), f"{session}"):
        assert "cksess_" in text
        assert SECRET not in text
        assert SECRET[:20] not in text


def test_chat_session_expiry_helpers() -> None:
    session = ChatSession.model_validate(SESSION)
    assert session.expires_at_datetime == datetime(2025, 10, 9, 21, 35, 15, tzinfo=UTC)
    assert session.expired is True
    future = ChatSession.model_validate({**SESSION, "expires_at": int(time.time()) + 3600})
    assert future.expired is False
    assert future.expires_at_datetime > datetime.now(UTC)


# --- threads ----------------------------------------------------------------------------------------


def test_rest_thread_and_deleted() -> None:
    thread = ChatKitThread.model_validate(
        {
            "id": THREAD_ID,
            "object": "chatkit.thread",
            "created_at": 1712345600,
            "title": None,
            "status": {"type": "locked", "reason": "moderation"},
            "user": "user_456",
        }
    )
    assert thread.created_at == datetime(2024, 4, 5, 19, 33, 20, tzinfo=UTC)
    assert thread.status.type == "locked" and thread.status.reason == "moderation"
    assert thread.user == "user_456" and thread.object == "chatkit.thread"
    assert ChatKitThread.model_validate({"id": "t"}).status.type == "active"
    deleted = ThreadDeleted.model_validate({"id": THREAD_ID, "object": "chatkit.thread.deleted", "deleted": True})
    assert deleted.deleted is True and deleted.id == THREAD_ID


def test_protocol_thread_with_items_page() -> None:
    thread = Thread.model_validate(
        {
            "id": THREAD_ID,
            "created_at": "2026-01-23T16:15:25.515839",
            "status": {"type": "active"},
            "metadata": {"k": "v"},
            "items": {
                "data": [{"id": ITEM_ID, "thread_id": THREAD_ID, "created_at": 0, "type": "end_of_turn"}],
                "has_more": True,
                "after": ITEM_ID,
            },
            "allowed_image_domains": ["example.com"],
        }
    )
    assert thread.title is None
    assert thread.metadata == {"k": "v"}
    assert thread.items is not None
    assert thread.items.has_more is True and thread.items.after == ITEM_ID
    assert isinstance(thread.items.data[0], EndOfTurnItem)
    assert thread.model_extra == {"allowed_image_domains": ["example.com"]}


def test_rest_list_envelope_fits_page() -> None:
    page = Page[ChatKitThread].model_validate(
        {
            "object": "list",
            "data": [{"id": "cthr_a", "created_at": 1}, {"id": "cthr_b", "created_at": 2}],
            "first_id": "cthr_a",
            "last_id": "cthr_b",
            "has_more": False,
        }
    )
    assert [thread.id for thread in page.data] == ["cthr_a", "cthr_b"]
    assert page.last_id == "cthr_b" and page.object == "list" and page.after is None


def test_uploaded_file_answers() -> None:
    image = UploadedFile.model_validate(
        {
            "type": "image",
            "id": "cfile_1",
            "name": "cat.png",
            "mime_type": "image/png",
            "preview_url": "https://example.com/p.png",
            "upload_url": "https://api.openai.com/v1/chatkit/files/cfile_1",
        }
    )
    assert image.type == "image" and image.preview_url == "https://example.com/p.png"
    file = UploadedFile.model_validate({"type": "file", "id": "cfile_2", "name": None, "mime_type": None})
    assert file.type == "file" and file.name is None and file.upload_url is None


# --- items: both spellings --------------------------------------------------------------------------

PROTOCOL_BASE = {"id": ITEM_ID, "thread_id": THREAD_ID, "created_at": "2026-01-23T16:15:25.661034"}
REST_BASE = {"id": ITEM_ID, "thread_id": THREAD_ID, "created_at": 1769184925, "object": "chatkit.thread_item"}

ITEM_CASES: list[tuple[str, dict[str, Any], dict[str, Any], type]] = [
    (
        "user_message",
        {
            "content": [{"type": "input_text", "text": "Hello"}, {"type": "quoted_text", "text": "q"}],
            "attachments": [{"id": "cfile_1", "name": "a.pdf", "mime_type": "application/pdf", "type": "file"}],
            "quoted_text": "",
            "inference_options": {},
        },
        {
            "content": [{"type": "input_text", "text": "Hello"}, {"type": "quoted_text", "text": "q"}],
            "attachments": [
                {"id": "cfile_1", "name": "a.pdf", "mime_type": "application/pdf", "type": "file", "preview_url": None}
            ],
            "inference_options": {"model": None, "tool_choice": None},
        },
        UserMessageItem,
    ),
    (
        "assistant_message",
        {"content": [{"type": "output_text", "text": "Hi", "annotations": []}]},
        {
            "content": [
                {
                    "type": "output_text",
                    "text": "Hi",
                    "annotations": [{"type": "url", "source": {"type": "url", "url": "https://x.org"}}],
                }
            ]
        },
        AssistantMessageItem,
    ),
    (
        "widget",
        {"widget": {"type": "Card", "children": []}},
        {"widget": '{"type": "Card", "children": []}'},
        WidgetItem,
    ),
    (
        "client_tool_call",
        {"status": "pending", "call_id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}},
        {
            "status": "in_progress",
            "call_id": "call_1",
            "name": "get_weather",
            "arguments": '{"city": "Paris"}',
            "output": None,
        },
        ClientToolCallItem,
    ),
    ("task", {"task": {"type": "thought", "content": "Hmm"}}, {"task_type": "thought", "heading": "H"}, TaskItem),
    (
        "task_group",
        {"tasks": [{"type": "custom", "title": "t"}]},
        {"tasks": [{"type": "custom", "heading": "h", "summary": "s"}]},
        TaskGroupItem,
    ),
    ("end_of_turn", {}, {}, EndOfTurnItem),
    ("generated_image", {"image": {"id": "img_1", "url": "https://x/i.png"}}, {"image": None}, GeneratedImageItem),
]


@pytest.mark.parametrize(("kind", "protocol", "rest", "cls"), ITEM_CASES, ids=[case[0] for case in ITEM_CASES])
def test_both_item_spellings_map_to_the_same_class(
    kind: str, protocol: dict[str, Any], rest: dict[str, Any], cls: type
) -> None:
    from_protocol = parse_item({**PROTOCOL_BASE, "type": kind, **protocol})
    from_rest = parse_item({**REST_BASE, "type": f"chatkit.{kind}", **rest})
    for item in (from_protocol, from_rest):
        assert type(item) is cls
        assert item.type == kind
        assert item.id == ITEM_ID and item.thread_id == THREAD_ID
        assert item.created_at is not None and item.created_at.tzinfo is not None
    assert from_rest.model_extra is not None and from_rest.model_extra["object"] == "chatkit.thread_item"
    # Going through the stream's JSON path gives the same result as the dict path.
    event = parse_event(compact({"type": "thread.item.done", "item": {**REST_BASE, "type": f"chatkit.{kind}", **rest}}))
    assert isinstance(event, ThreadItemDoneEvent)
    assert event.item == from_rest


def test_item_type_is_accepted_unprefixed_with_rest_object() -> None:
    # The REST docs' examples use bare types; the schema uses `chatkit.`-prefixed ones.
    item = parse_item({**REST_BASE, "type": "widget", "widget": '{"type": "Card"}'})
    assert isinstance(item, WidgetItem) and item.widget == {"type": "Card"}


def test_rest_json_strings_are_decoded() -> None:
    call = parse_item(
        {
            **REST_BASE,
            "type": "chatkit.client_tool_call",
            "status": "completed",
            "call_id": "c",
            "name": "n",
            "arguments": '{"a": [1, 2]}',
            "output": '{"ok": true}',
        }
    )
    assert isinstance(call, ClientToolCallItem)
    assert call.arguments == {"a": [1, 2]}
    assert call.output == {"ok": True}
    assert call.status == "completed"


def test_protocol_string_output_is_not_json_decoded() -> None:
    call = parse_item(
        {**PROTOCOL_BASE, "type": "client_tool_call", "call_id": "c", "name": "n", "arguments": {}, "output": "42"}
    )
    assert isinstance(call, ClientToolCallItem)
    assert call.output == "42"


def test_rest_output_that_is_not_json_is_kept_as_text() -> None:
    call = parse_item(
        {
            **REST_BASE,
            "type": "chatkit.client_tool_call",
            "call_id": "c",
            "name": "n",
            "arguments": "{}",
            "output": "hi",
        }
    )
    assert isinstance(call, ClientToolCallItem) and call.output == "hi"


def test_undecodable_widget_string_is_an_error() -> None:
    with pytest.raises(APIResponseValidationError, match="widget"):
        parse_item({**REST_BASE, "type": "chatkit.widget", "widget": "{not json"})


def test_rest_task_fields_are_kept_as_extras() -> None:
    item = parse_item({**REST_BASE, "type": "chatkit.task", "task_type": "thought", "heading": "H", "summary": "S"})
    assert isinstance(item, TaskItem) and item.task is None
    assert item.model_extra is not None
    assert (item.model_extra["task_type"], item.model_extra["heading"], item.model_extra["summary"]) == (
        "thought",
        "H",
        "S",
    )
    group = parse_item({**REST_BASE, "type": "chatkit.task_group", "tasks": [{"type": "custom", "heading": "h"}]})
    assert isinstance(group, TaskGroupItem)
    assert group.tasks[0].model_extra == {"heading": "h"}


def test_text_properties_join_parts() -> None:
    user = parse_item(
        {
            **PROTOCOL_BASE,
            "type": "user_message",
            "content": [
                {"type": "input_text", "text": "one"},
                {"type": "input_tag", "id": "t", "text": "@tag", "data": {}},
                {"type": "input_text", "text": ""},
                {"type": "input_text", "text": "two"},
            ],
        }
    )
    assert isinstance(user, UserMessageItem)
    assert user.text == "one\n\ntwo"
    assert user.content[1].model_extra == {"id": "t", "data": {}}
    assistant = parse_item(
        {
            **PROTOCOL_BASE,
            "type": "assistant_message",
            "content": [{"type": "output_text", "text": "a"}, {"type": "output_text", "text": "b"}],
        }
    )
    assert isinstance(assistant, AssistantMessageItem) and assistant.text == "a\n\nb"


def test_workflow_item_hosted_shape() -> None:
    item = parse_item(
        {
            **PROTOCOL_BASE,
            "type": "workflow",
            "workflow": {
                "type": "reasoning",
                "tasks": [{"type": "thought", "content": "x", "status_indicator": "complete"}],
                "expanded": False,
                "summary": {"duration": 4},
            },
            "response_items": [],
        }
    )
    assert isinstance(item, WorkflowItem)
    assert item.workflow.type == "reasoning"
    assert item.workflow.summary is not None and item.workflow.summary.duration == 4
    assert item.workflow.tasks[0].content == "x"


def test_unknown_item_keeps_everything() -> None:
    raw = {**PROTOCOL_BASE, "type": "future_thing", "status": "pending", "inputs": [{"id": "q1"}]}
    item = parse_item(raw)
    assert isinstance(item, UnknownItem)
    assert item.type == "future_thing"
    assert item.model_extra == {"status": "pending", "inputs": [{"id": "q1"}]}
    dumped = item.model_dump()
    assert dumped["inputs"] == [{"id": "q1"}] and dumped["type"] == "future_thing"
    rest = parse_item({**REST_BASE, "type": "chatkit.future_thing"})
    assert isinstance(rest, UnknownItem) and rest.type == "chatkit.future_thing"


def test_unknown_fields_on_known_items_survive_a_round_trip() -> None:
    item = parse_item({**PROTOCOL_BASE, "type": "assistant_message", "content": [], "sparkle": 3})
    assert item.model_extra == {"sparkle": 3}
    again = parse_item(item.model_dump())
    assert again == item


@pytest.mark.parametrize(
    "raw",
    [
        {"id": ITEM_ID},
        {"id": ITEM_ID, "type": 7},
        {"type": "user_message"},
        {**PROTOCOL_BASE, "type": "client_tool_call", "name": "n", "arguments": {}},
        {**PROTOCOL_BASE, "type": "assistant_message", "content": "not a list"},
    ],
)
def test_parse_item_errors_are_api_response_validation_errors(raw: dict[str, Any]) -> None:
    with pytest.raises(APIResponseValidationError, match="thread item"):
        parse_item(raw)


# --- updates ----------------------------------------------------------------------------------------

UPDATE_CASES: list[tuple[dict[str, Any], type]] = [
    (
        {
            "type": "assistant_message.content_part.added",
            "content_index": 0,
            "content": {"type": "output_text", "text": "", "annotations": []},
        },
        AssistantMessageContentPartAdded,
    ),
    (
        {"type": "assistant_message.content_part.text_delta", "content_index": 1, "delta": "Hel"},
        AssistantMessageContentPartTextDelta,
    ),
    (
        {
            "type": "assistant_message.content_part.annotation_added",
            "content_index": 0,
            "annotation_index": 0,
            "annotation": {"type": "annotation", "source": {"type": "url", "url": "https://x", "title": "X"}},
        },
        AssistantMessageContentPartAnnotationAdded,
    ),
    (
        {
            "type": "assistant_message.content_part.done",
            "content_index": 0,
            "content": {"type": "output_text", "text": "Hello", "annotations": []},
        },
        AssistantMessageContentPartDone,
    ),
    ({"type": "workflow.task.added", "task_index": 0, "task": {"type": "thought", "content": "c"}}, WorkflowTaskAdded),
    ({"type": "workflow.task.updated", "task_index": 0, "task": {"type": "web_search"}}, WorkflowTaskUpdated),
    ({"type": "widget.root.updated", "widget": {"type": "Card"}}, WidgetRootUpdated),
    ({"type": "widget.component.updated", "component_id": "c1", "component": {"type": "Text"}}, WidgetComponentUpdated),
    (
        {"type": "widget.streaming_text.value_delta", "component_id": "c1", "delta": "x", "done": False},
        WidgetStreamingTextValueDelta,
    ),
    ({"type": "generated_image.updated", "image": {"id": "i", "url": "u"}, "progress": 0.5}, GeneratedImageUpdated),
    ({"type": "brand.new.update", "payload": [1]}, UnknownUpdate),
]


@pytest.mark.parametrize(("raw", "cls"), UPDATE_CASES, ids=[case[0]["type"] for case in UPDATE_CASES])
def test_updates_parse_in_both_paths(raw: dict[str, Any], cls: type) -> None:
    update = parse_update(raw)
    assert type(update) is cls
    assert update.type == raw["type"]
    event = parse_event(compact({"type": "thread.item.updated", "item_id": ITEM_ID, "update": raw}))
    assert isinstance(event, ThreadItemUpdatedEvent)
    assert event.item_id == ITEM_ID
    assert event.update == update


def test_unknown_update_keeps_fields() -> None:
    update = parse_update({"type": "brand.new.update", "payload": [1]})
    assert update.model_extra == {"payload": [1]}


@pytest.mark.parametrize(
    "raw",
    [
        {"type": "assistant_message.content_part.text_delta", "content_index": 0, "delta": 5},
        {"type": "assistant_message.content_part.text_delta", "delta": "x"},
        {"type": "workflow.task.added", "task_index": "first", "task": {}},
        {"content_index": 0},
        {"type": None},
    ],
)
def test_bad_updates_raise(raw: dict[str, Any]) -> None:
    with pytest.raises(APIResponseValidationError, match="item update"):
        parse_update(raw)


# --- events -----------------------------------------------------------------------------------------

HOSTED_THREAD = {
    "id": THREAD_ID,
    "created_at": "2026-01-23T16:15:25.515839",
    "status": {"type": "active"},
    "metadata": {},
    "items": {"data": [], "has_more": False},
    "title": "AI Assistant and User Dialogue",
}
ASSISTANT = {**PROTOCOL_BASE, "type": "assistant_message", "content": []}

EVENT_CASES: list[tuple[dict[str, Any], type]] = [
    ({"type": "thread.created", "thread": HOSTED_THREAD}, ThreadCreatedEvent),
    ({"type": "thread.updated", "thread": HOSTED_THREAD}, ThreadUpdatedEvent),
    ({"type": "thread.item.added", "item": ASSISTANT}, ThreadItemAddedEvent),
    (
        {
            "type": "thread.item.updated",
            "item_id": ITEM_ID,
            "update": {"type": "assistant_message.content_part.text_delta", "content_index": 0, "delta": "é✓"},
        },
        ThreadItemUpdatedEvent,
    ),
    ({"type": "thread.item.done", "item": ASSISTANT}, ThreadItemDoneEvent),
    ({"type": "thread.item.removed", "item_id": ITEM_ID}, ThreadItemRemovedEvent),
    ({"type": "thread.item.replaced", "item": ASSISTANT}, ThreadItemReplacedEvent),
    ({"type": "progress_update", "icon": "document", "text": "Looking up ..."}, ProgressUpdateEvent),
    ({"type": "notice", "level": "warning", "message": "**Careful**", "title": "Heads up"}, NoticeEvent),
    ({"type": "error", "code": "stream.error", "allow_retry": True}, ErrorEvent),
    ({"type": "stream_options", "stream_options": {"allow_cancel": True}}, StreamOptionsEvent),
    ({"type": "client_effect", "name": "refresh", "data": {"a": 1}}, ClientEffectEvent),
    ({"type": "something.new", "foo": {"bar": [1, 2]}}, UnknownEvent),
]


@pytest.mark.parametrize(("raw", "cls"), EVENT_CASES, ids=[case[0]["type"] for case in EVENT_CASES])
def test_every_event_type_parses_the_same_from_text_bytes_and_pretty_json(raw: dict[str, Any], cls: type) -> None:
    fast = parse_event(compact(raw))
    assert type(fast) is cls
    assert fast.type == raw["type"]
    assert parse_event(compact(raw).encode()) == fast
    # Pretty-printed JSON (type not first on the line) takes the careful path and must agree.
    assert parse_event(json.dumps(raw, indent=2)) == fast
    reordered = {key: raw[key] for key in reversed(list(raw))}
    assert parse_event(compact(reordered)) == fast


def test_event_fields() -> None:
    created = parse_event(compact(EVENT_CASES[0][0]))
    assert isinstance(created, ThreadCreatedEvent)
    assert created.thread.title == "AI Assistant and User Dialogue"
    assert created.thread.created_at == datetime(2026, 1, 23, 16, 15, 25, 515839, tzinfo=UTC)
    delta = parse_event(compact(EVENT_CASES[3][0]))
    assert isinstance(delta, ThreadItemUpdatedEvent)
    assert isinstance(delta.update, AssistantMessageContentPartTextDelta)
    assert delta.update.delta == "é✓"
    error = parse_event('{"type":"error","code":"custom","message":"boom"}')
    assert isinstance(error, ErrorEvent)
    assert (error.code, error.message, error.allow_retry) == ("custom", "boom", False)
    bare_error = parse_event('{"type":"error"}')
    assert isinstance(bare_error, ErrorEvent) and bare_error.code == "custom" and bare_error.allow_retry is False
    progress = parse_event('{"type":"progress_update","text":"Working"}')
    assert isinstance(progress, ProgressUpdateEvent) and progress.icon is None
    options = parse_event('{"type":"stream_options","stream_options":{"allow_cancel":true}}')
    assert isinstance(options, StreamOptionsEvent) and options.stream_options.allow_cancel is True


def test_old_client_side_effect_name_is_accepted() -> None:
    event = parse_event('{"type":"client_side_effect","name":"reload","data":{}}')
    assert isinstance(event, ClientEffectEvent)
    assert event.type == "client_effect" and event.name == "reload"


def test_unknown_event_keeps_type_and_fields() -> None:
    event = parse_event('{"type":"something.new","foo":{"bar":[1,2]},"n":null}')
    assert isinstance(event, UnknownEvent)
    assert event.type == "something.new"
    assert event.model_extra == {"foo": {"bar": [1, 2]}, "n": None}
    assert event.model_dump() == {"type": "something.new", "foo": {"bar": [1, 2]}, "n": None}


def test_unknown_fields_on_known_events_are_kept() -> None:
    event = parse_event('{"type":"progress_update","text":"t","eta_ms":1200}')
    assert event.model_extra == {"eta_ms": 1200}


def test_duplicate_type_keys_follow_json_semantics() -> None:
    # The fast path reads the first `type`; JSON says the last one wins, and so must we.
    event = parse_event('{"type":"notice","type":"thread.item.removed","item_id":"x"}')
    assert isinstance(event, ThreadItemRemovedEvent) and event.item_id == "x"


def test_escaped_type_is_understood() -> None:
    event = parse_event('{"type":"thread.item.removed","item_id":"x"}'.replace(".removed", "\\u002eremoved"))
    assert isinstance(event, ThreadItemRemovedEvent)


LONG = "x" * 2000

DECODE_ERRORS: list[tuple[str | bytes, str]] = [
    ("", "not valid JSON"),
    ("not json", "not valid JSON"),
    ('{"type":"thread.item.updated","item_id":"x",', "not valid JSON"),
    ('{"type":"progress_update","text":"' + LONG, "not valid JSON"),
    (b'{"type":"progress_update","text":"\xff\xfe"}', "not valid JSON"),
    ("[1, 2]", "JSON array"),
    ("42", "JSON number"),
    ('"thread.created"', "JSON string"),
    ("true", "JSON boolean"),
    ("null", "JSON null"),
    ("{}", "no string 'type'"),
    ('{"type":null}', "no string 'type'"),
    ('{"type":5,"item_id":"x"}', "no string 'type'"),
    (
        '{"type":"thread.item.updated","item_id":"x","update":'
        '{"type":"assistant_message.content_part.text_delta","content_index":0,"delta":5}}',
        "update.assistant_message.content_part.text_delta.delta",
    ),
    ('{"type":"thread.item.updated","update":{"type":"x"}}', "item_id"),
    ('{"type":"thread.item.updated","item_id":"x","update":{"content_index":0}}', "update"),
    ('{"type":"thread.item.added","item":{"id":"i","type":"user_message","created_at":"nope"}}', "created_at"),
    ('{"type":"thread.item.added","item":{"type":"user_message"}}', "item.user_message.id"),
    ('{"type":"thread.created","thread":"cthr_1"}', "thread"),
    ('{"type":"client_effect","data":{}}', "name"),
    ('{"type":"notice","level":"info","message":["x"]}', "message"),
    ("[" * 100_000 + "]" * 100_000, "MAX_EVENT_DEPTH"),
]


@pytest.mark.parametrize(("data", "message"), DECODE_ERRORS, ids=range(len(DECODE_ERRORS)))
def test_decode_errors(data: str | bytes, message: str) -> None:
    with pytest.raises(StreamDecodeError) as caught:
        parse_event(data)
    error = caught.value
    assert message in str(error)
    assert error.data is not None
    assert len(error.data) <= 503
    text = data if isinstance(data, str) else data.decode("utf-8", "replace")
    assert error.data == (text if len(text) <= 500 else text[:500] + "...")
    assert error.reply is None


def test_known_type_error_names_the_event_type() -> None:
    with pytest.raises(StreamDecodeError, match=r"'thread\.item\.removed'"):
        parse_event('{"type":"thread.item.removed","item_id":7}')


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text_gives_an_event_or_a_stream_decode_error(data: str) -> None:
    try:
        event = parse_event(data)
    except StreamDecodeError as error:
        assert error.data is not None
    else:
        assert isinstance(event.type, str)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
KNOWN_TYPES = [case[0]["type"] for case in EVENT_CASES] + ["client_side_effect"]
FIELD_NAMES = ["item", "item_id", "update", "thread", "text", "code", "name", "data", "delta", "content_index"]


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(KNOWN_TYPES),
    st.dictionaries(st.sampled_from(FIELD_NAMES), JSON_VALUES, max_size=4),
)
def test_known_types_with_random_fields_never_raise_anything_else(kind: str, fields: dict[str, Any]) -> None:
    data = compact({"type": kind, **fields})
    try:
        event = parse_event(data)
    except StreamDecodeError as error:
        assert error.data == (data if len(data) <= 500 else data[:500] + "...")
    else:
        assert event.type in (kind, "client_effect")


def test_public_names_are_sorted_and_importable() -> None:
    names = types_module.__all__
    assert list(names) == sorted(names)
    for name in names:
        assert getattr(types_module, name) is not None
