"""The local ChatKit server (`chatkit_client.testing`), driven over real HTTP with plain httpx2."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from chatkit_client.testing._agent import PIXEL_PNG, SOURCE_URL
from chatkit_client.testing._memory_store import InMemoryStore
from chatkit_client.testing._server import (
    FeedbackRecord,
    LocalChatKitServer,
    RunningLocalServer,
    serve_local_server,
)

Event = dict[str, Any]


# ----- helpers -----


def parse_sse(lines: Iterator[str]) -> Iterator[Event]:
    """A minimal SSE decoder: `data:` lines joined per event, events split by blank lines."""
    data: list[str] = []
    for line in lines:
        if line == "":
            if data:
                yield json.loads("\n".join(data))
                data = []
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
        else:
            raise AssertionError(f"unexpected SSE line from the local server: {line!r}")
    if data:
        yield json.loads("\n".join(data))


def user_input(text: str, attachments: list[str] | None = None) -> dict[str, Any]:
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": attachments or [],
        "quoted_text": "",
        "inference_options": {},
    }


class Api:
    def __init__(self, client: httpx2.Client, running: RunningLocalServer) -> None:
        self.client = client
        self.running = running

    def call(self, op: str, **params: Any) -> httpx2.Response:
        return self.client.post(self.running.url, json={"type": op, "params": params})

    def json(self, op: str, **params: Any) -> Any:
        response = self.call(op, **params)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        return response.json()

    def stream(self, op: str, **params: Any) -> list[Event]:
        with self.client.stream("POST", self.running.url, json={"type": op, "params": params}) as response:
            assert response.status_code == 200, response.read()
            assert response.headers["content-type"].startswith("text/event-stream")
            return list(parse_sse(response.iter_lines()))

    def new_thread(self, text: str, attachments: list[str] | None = None) -> tuple[str, list[Event]]:
        events = self.stream("threads.create", input=user_input(text, attachments))
        assert events[0]["type"] == "thread.created"
        return events[0]["thread"]["id"], events

    def say(self, thread_id: str, text: str) -> list[Event]:
        return self.stream("threads.add_user_message", thread_id=thread_id, input=user_input(text))

    def items(self, thread_id: str, **params: Any) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = self.json("items.list", thread_id=thread_id, **params)["data"]
        return data

    def create_attachment(self, name: str, size: int, mime_type: str) -> dict[str, Any]:
        attachment: dict[str, Any] = self.json("attachments.create", name=name, size=size, mime_type=mime_type)
        return attachment


def of_type(events: list[Event], kind: str) -> list[Event]:
    return [event for event in events if event["type"] == kind]


def updates(events: list[Event], kind: str) -> list[dict[str, Any]]:
    return [e["update"] for e in of_type(events, "thread.item.updated") if e["update"]["type"] == kind]


def done_items(events: list[Event], item_type: str) -> list[dict[str, Any]]:
    return [e["item"] for e in of_type(events, "thread.item.done") if e["item"]["type"] == item_type]


def assistant_texts(events: list[Event]) -> list[str]:
    return [item["content"][0]["text"] for item in done_items(events, "assistant_message")]


def deltas(events: list[Event]) -> list[str]:
    return [update["delta"] for update in updates(events, "assistant_message.content_part.text_delta")]


@pytest.fixture(scope="module")
def running() -> Iterator[RunningLocalServer]:
    with serve_local_server() as server:
        yield server


@pytest.fixture
def api(running: RunningLocalServer) -> Iterator[Api]:
    with httpx2.Client(timeout=30) as client:
        yield Api(client, running)


# ----- the scripted agent -----


def test_default_reply_echoes_word_by_word_and_titles_the_first_turn(api: Api) -> None:
    thread_id, events = api.new_thread("Hello there, local server")

    kinds = [event["type"] for event in events]
    assert kinds[:3] == ["thread.created", "thread.item.done", "stream_options"]
    assert events[1]["item"]["type"] == "user_message"
    assert deltas(events) == ["You ", "said: ", "Hello ", "there, ", "local ", "server"]
    assert assistant_texts(events) == ["You said: Hello there, local server"]
    assert updates(events, "assistant_message.content_part.done")[0]["content"]["text"] == (
        "You said: Hello there, local server"
    )
    added = of_type(events, "thread.item.added")[0]["item"]
    assert added["type"] == "assistant_message" and added["content"] == []
    assert [e["thread"]["title"] for e in of_type(events, "thread.updated")] == ["Hello there, local server"]
    assert kinds[-1] == "thread.item.done"

    second = api.say(thread_id, "again")
    assert assistant_texts(second) == ["You said: again"]
    assert of_type(second, "thread.updated") == []
    assert api.json("threads.get_by_id", thread_id=thread_id)["title"] == "Hello there, local server"


def test_help_lists_the_keywords(api: Api) -> None:
    _, events = api.new_thread("help")
    (text,) = assistant_texts(events)
    assert "tool:NAME {json}" in text and "long N" in text and "crash" in text


def test_tool_call_waits_for_the_client_and_reports_its_output(api: Api) -> None:
    thread_id, events = api.new_thread('tool:get_weather {"city": "Paris", "days": 2}')

    # The tool call ends the turn; only the thread's new title may follow it.
    item_events = [event for event in events if event["type"].startswith("thread.item.")]
    assert item_events[-1]["type"] == "thread.item.done"
    call = item_events[-1]["item"]
    assert call["type"] == "client_tool_call"
    assert [event["type"] for event in events[events.index(item_events[-1]) + 1 :]] == ["thread.updated"]
    assert call["status"] == "pending"
    assert call["name"] == "get_weather"
    assert call["arguments"] == {"city": "Paris", "days": 2}
    assert call["call_id"].startswith("call_")
    assert done_items(events, "assistant_message") == []

    after = api.stream("threads.add_client_tool_output", thread_id=thread_id, result={"temp": 21, "sky": "clear"})
    assert assistant_texts(after) == ['Tool get_weather returned: {"temp":21,"sky":"clear"}']

    stored = [item for item in api.items(thread_id, order="asc") if item["type"] == "client_tool_call"]
    assert stored[0]["status"] == "completed"
    assert stored[0]["output"] == {"temp": 21, "sky": "clear"}


def test_tool_call_without_arguments_and_with_bad_json(api: Api) -> None:
    _, events = api.new_thread("tool:ping")
    assert done_items(events, "client_tool_call")[0]["arguments"] == {}

    _, events = api.new_thread("tool:ping {not json")
    (error,) = of_type(events, "error")
    assert error["code"] == "custom"
    assert "not valid JSON" in error["message"]
    assert done_items(events, "client_tool_call") == []


def test_tool_output_without_a_pending_call_is_rejected(api: Api) -> None:
    thread_id, _ = api.new_thread("no tools here")
    response = api.call("threads.add_client_tool_output", thread_id=thread_id, result=1)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def _widget_text(widget: dict[str, Any], component_id: str) -> Any:
    return next(child for child in widget["children"] if child.get("id") == component_id)


def test_widget_streams_a_counter_card(api: Api) -> None:
    _, events = api.new_thread("widget")

    assert assistant_texts(events) == ["Here is a counter widget."]
    added = [e["item"] for e in of_type(events, "thread.item.added") if e["item"]["type"] == "widget"]
    assert _widget_text(added[0]["widget"], "caption")["value"] == ""
    value_deltas = updates(events, "widget.streaming_text.value_delta")
    assert "".join(update["delta"] for update in value_deltas) == "A counter, updated by the server."
    assert [update["done"] for update in value_deltas][-1] is True
    (widget_item,) = done_items(events, "widget")
    widget = widget_item["widget"]
    assert widget["type"] == "Card"
    assert _widget_text(widget, "count") == {"type": "Text", "id": "count", "value": "Count: 0"}
    button = _widget_text(widget, "increment")
    assert button["type"] == "Button"
    assert button["onClickAction"]["type"] == "counter.increment"
    assert button["onClickAction"]["payload"] == {"count": 0}


def test_widget_actions_update_the_stored_widget(api: Api) -> None:
    thread_id, events = api.new_thread("widget")
    widget_id = done_items(events, "widget")[0]["id"]
    action = {"type": "counter.increment", "payload": {"count": 0}}

    first = api.stream("threads.custom_action", thread_id=thread_id, item_id=widget_id, action=action)
    components = updates(first, "widget.component.updated")
    assert [update["component_id"] for update in components] == ["count", "increment"]
    assert components[0]["component"]["value"] == "Count: 1"
    assert components[1]["component"]["onClickAction"]["payload"] == {"count": 1}
    (replaced,) = of_type(first, "thread.item.replaced")
    assert replaced["item"]["id"] == widget_id
    assert _widget_text(replaced["item"]["widget"], "count")["value"] == "Count: 1"
    assert assistant_texts(first) == ["Count is now 1"]

    stored = next(item for item in api.items(thread_id) if item["id"] == widget_id)
    assert _widget_text(stored["widget"], "count")["value"] == "Count: 1"

    # The button now carries count 1, as ChatKit.js would send it back.
    second_action = _widget_text(stored["widget"], "increment")["onClickAction"]
    second = api.stream("threads.custom_action", thread_id=thread_id, item_id=widget_id, action=second_action)
    assert assistant_texts(second) == ["Count is now 2"]

    reset = api.stream(
        "threads.custom_action", thread_id=thread_id, item_id=widget_id, action={"type": "counter.reset"}
    )
    (root,) = updates(reset, "widget.root.updated")
    assert _widget_text(root["widget"], "count")["value"] == "Count: 0"
    assert assistant_texts(reset) == ["Count is now 0"]

    synced = api.json(
        "threads.sync_custom_action",
        thread_id=thread_id,
        item_id=widget_id,
        action={"type": "counter.increment", "payload": {"count": 41}},
    )
    assert _widget_text(synced["updated_item"]["widget"], "count")["value"] == "Count: 42"
    stored = next(item for item in api.items(thread_id) if item["id"] == widget_id)
    assert _widget_text(stored["widget"], "count")["value"] == "Count: 42"


def test_unknown_widget_action_is_an_error_event(api: Api) -> None:
    thread_id, events = api.new_thread("widget")
    widget_id = done_items(events, "widget")[0]["id"]
    answer = api.stream(
        "threads.custom_action", thread_id=thread_id, item_id=widget_id, action={"type": "counter.explode"}
    )
    (error,) = of_type(answer, "error")
    assert error["message"] == "Unknown action type: counter.explode"


def test_workflow_adds_and_completes_tasks(api: Api) -> None:
    _, events = api.new_thread("Workflow please")

    added = [e["item"] for e in of_type(events, "thread.item.added") if e["item"]["type"] == "workflow"]
    assert added[0]["workflow"]["tasks"] == []
    task_added = updates(events, "workflow.task.added")
    assert [(u["task_index"], u["task"]["type"], u["task"]["status_indicator"]) for u in task_added] == [
        (0, "thought", "loading"),
        (1, "custom", "loading"),
    ]
    task_updated = updates(events, "workflow.task.updated")
    assert [(u["task_index"], u["task"]["status_indicator"]) for u in task_updated] == [
        (0, "complete"),
        (1, "complete"),
    ]
    (workflow_item,) = done_items(events, "workflow")
    workflow = workflow_item["workflow"]
    assert [task["type"] for task in workflow["tasks"]] == ["thought", "custom"]
    assert workflow["summary"] == {"duration": 2}
    assert assistant_texts(events) == ["The workflow is complete."]
    order = [e["type"] for e in events]
    assert order.index("thread.item.done", order.index("thread.item.added")) < len(order) - 1


def test_task_image_and_remove_scripts(api: Api) -> None:
    _, events = api.new_thread("task")
    (task,) = done_items(events, "task")
    assert task["task"]["type"] == "custom" and task["task"]["title"] == "Filed a ticket"
    assert assistant_texts(events) == ["The task is done."]
    assert events[-1]["item"]["type"] == "end_of_turn"

    _, events = api.new_thread("image")
    progress = updates(events, "generated_image.updated")
    assert [update["progress"] for update in progress] == [0.5, 1.0]
    (image,) = done_items(events, "generated_image")
    assert image["image"]["url"] == PIXEL_PNG

    thread_id, events = api.new_thread("remove")
    (removed,) = of_type(events, "thread.item.removed")
    assert assistant_texts(events) == ["This message will be removed.", "One message was removed."]
    removed_id = done_items(events, "assistant_message")[0]["id"]
    assert removed["item_id"] == removed_id
    assert removed_id not in [item["id"] for item in api.items(thread_id)]


def test_ask_and_structured_input(api: Api) -> None:
    thread_id, events = api.new_thread("ask")
    (question_item,) = done_items(events, "structured_input")
    assert question_item["status"] == "pending"
    assert question_item["inputs"][0]["id"] == "color"

    answer = api.stream(
        "threads.add_structured_input",
        thread_id=thread_id,
        item_id=question_item["id"],
        input={"answers": {"color": {"values": ["green"]}}},
    )
    (replaced,) = of_type(answer, "thread.item.replaced")
    assert replaced["item"]["status"] == "answered"
    assert assistant_texts(answer) == ["You answered: green"]


@pytest.mark.parametrize(
    ("keyword", "kind", "expected", "text"),
    [
        (
            "notice",
            "notice",
            [{"type": "notice", "level": "info", "title": "Heads up", "message": "This is a **scripted** notice."}],
            "A notice was sent.",
        ),
        (
            "progress",
            "progress_update",
            [
                {"type": "progress_update", "icon": "search", "text": "Searching the archive"},
                {"type": "progress_update", "icon": "document", "text": "Reading the results"},
            ],
            "Progress is complete.",
        ),
        (
            "EFFECT",
            "client_effect",
            [{"type": "client_effect", "name": "demo.effect", "data": {"color": "blue", "count": 1}}],
            "A client effect was sent.",
        ),
    ],
)
def test_event_scripts(api: Api, keyword: str, kind: str, expected: list[Event], text: str) -> None:
    _, events = api.new_thread(keyword)
    assert of_type(events, kind) == expected
    assert assistant_texts(events) == [text]
    first_event = next(i for i, e in enumerate(events) if e["type"] == kind)
    first_message = next(i for i, e in enumerate(events) if e["type"] == "thread.item.added")
    assert first_event < first_message


def test_sources_adds_a_url_annotation(api: Api) -> None:
    _, events = api.new_thread("sources")
    (added,) = updates(events, "assistant_message.content_part.annotation_added")
    assert added["annotation_index"] == 0
    assert added["annotation"]["source"]["type"] == "url"
    assert added["annotation"]["source"]["url"] == SOURCE_URL
    (message,) = done_items(events, "assistant_message")
    assert message["content"][0]["annotations"] == [added["annotation"]]


def test_error_script_ends_with_a_retryable_error_event(api: Api) -> None:
    thread_id, events = api.new_thread("error")
    assert deltas(events) == ["This ", "reply ", "will ", "fail "]
    assert events[-1] == {"type": "error", "code": "custom", "message": "Scripted error", "allow_retry": True}
    assert done_items(events, "assistant_message") == []
    # The server is still usable afterwards.
    assert assistant_texts(api.say(thread_id, "still there?")) == ["You said: still there?"]


def test_crash_script_drops_the_connection(api: Api) -> None:
    thread_id, _ = api.new_thread("before the crash")
    received: list[Event] = []
    with pytest.raises(httpx2.RemoteProtocolError):
        with api.client.stream(
            "POST",
            api.running.url,
            json={"type": "threads.add_user_message", "params": {"thread_id": thread_id, "input": user_input("crash")}},
        ) as response:
            assert response.status_code == 200
            for event in parse_sse(response.iter_lines()):
                received.append(event)
    assert deltas(received) == ["This ", "reply ", "will ", "crash "]
    assert of_type(received, "error") == []
    assert assistant_texts(api.say(thread_id, "after")) == ["You said: after"]


@pytest.mark.parametrize("count", [0, 1, 7, 20_000])
def test_long_streams_exactly_n_deltas(api: Api, count: int) -> None:
    thread_id, events = api.new_thread(f"long {count}")
    expected = [f"w{index} " for index in range(count)]
    assert deltas(events) == expected
    assert assistant_texts(events) == ["".join(expected)]
    stored = api.items(thread_id, limit=1)[0]
    assert stored["content"][0]["text"] == "".join(expected)


def test_long_rejects_a_bad_count(api: Api) -> None:
    _, events = api.new_thread("long lots")
    assert "whole number" in of_type(events, "error")[0]["message"]


def test_slow_streams_numbered_deltas(api: Api) -> None:
    _, events = api.new_thread("slow 3")
    assert deltas(events) == ["w0 ", "w1 ", "w2 "]


def test_client_disconnect_mid_stream_leaves_the_server_usable(api: Api) -> None:
    thread_id, _ = api.new_thread("first")
    with api.client.stream(
        "POST",
        api.running.url,
        json={"type": "threads.add_user_message", "params": {"thread_id": thread_id, "input": user_input("slow 200")}},
    ) as response:
        lines = response.iter_lines()
        seen = 0
        for event in parse_sse(lines):
            seen += event["type"] == "thread.item.updated"
            if seen == 3:
                break
    follow_up = api.say(thread_id, "still alive")
    assert assistant_texts(follow_up) == ["You said: still alive"]
    # Hidden context items the SDK stores on cancellation never reach the client.
    assert all(item["type"] != "sdk_hidden_context" for item in api.items(thread_id, limit=50))


def test_retry_script_fails_once_then_succeeds(api: Api) -> None:
    thread_id, events = api.new_thread("retry")
    user_id = done_items(events, "user_message")[0]["id"]
    assert events[-1]["type"] == "error" and events[-1]["allow_retry"] is True

    again = api.stream("threads.retry_after_item", thread_id=thread_id, item_id=user_id)
    assert of_type(again, "error") == []
    assert assistant_texts(again) == ["Attempt 2 succeeded: You said: retry"]


def test_retry_after_item_answers_the_user_message_again(api: Api) -> None:
    thread_id, events = api.new_thread("first question")
    first_user = done_items(events, "user_message")[0]["id"]
    api.say(thread_id, "second question")

    again = api.stream("threads.retry_after_item", thread_id=thread_id, item_id=first_user)
    assert assistant_texts(again) == ["You said: first question"]
    items = api.items(thread_id, order="asc")
    texts = [item["content"][0]["text"] for item in items]
    # Everything after the retried message was dropped, then the new answer appended.
    assert texts == ["first question", "You said: first question"]


def test_feedback_is_recorded(api: Api) -> None:
    thread_id, events = api.new_thread("rate me")
    answer_id = done_items(events, "assistant_message")[0]["id"]
    assert api.json("items.feedback", thread_id=thread_id, item_ids=[answer_id], kind="positive") == {}
    server = api.running.server
    assert FeedbackRecord(thread_id=thread_id, item_ids=(answer_id,), kind="positive") in server.feedback

    response = api.call("items.feedback", thread_id="thr_missing", item_ids=[answer_id], kind="negative")
    assert response.status_code == 404


def test_transcribe_describes_the_audio(api: Api) -> None:
    result = api.json("input.transcribe", audio_base64="AAECAw==", mime_type="audio/webm;codecs=opus")
    assert result == {"text": "Transcribed 4 bytes of audio/webm"}


# ----- JSON operations and pagination -----


def test_thread_get_update_delete(api: Api) -> None:
    thread_id, _ = api.new_thread("Thread to edit")

    thread = api.json("threads.get_by_id", thread_id=thread_id)
    assert thread["id"] == thread_id
    assert thread["status"] == {"type": "active"}
    assert [item["type"] for item in thread["items"]["data"]] == ["user_message", "assistant_message"]
    assert thread["items"]["has_more"] is False

    updated = api.json("threads.update", thread_id=thread_id, title="Renamed")
    assert updated["title"] == "Renamed"
    assert api.json("threads.get_by_id", thread_id=thread_id)["title"] == "Renamed"

    assert api.json("threads.delete", thread_id=thread_id) == {}
    missing = api.call("threads.get_by_id", thread_id=thread_id)
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "invalid_request_error"
    assert api.call("threads.delete", thread_id=thread_id).status_code == 404
    assert thread_id not in api.running.store.thread_ids()


def walk(api: Api, op: str, limit: int, order: str, **params: Any) -> tuple[list[str], int]:
    ids: list[str] = []
    pages = 0
    after: str | None = None
    while True:
        page = api.json(op, limit=limit, order=order, after=after, **params)
        pages += 1
        ids.extend(record["id"] for record in page["data"])
        assert len(page["data"]) <= limit
        if not page["has_more"]:
            assert page.get("after") is None
            return ids, pages
        assert page["after"] == page["data"][-1]["id"]
        after = page["after"]


@pytest.mark.parametrize("limit", [1, 2, 3, 7, 50])
def test_threads_list_pagination(limit: int) -> None:
    with serve_local_server() as running, httpx2.Client(timeout=30) as client:
        api = Api(client, running)
        created = [api.new_thread(f"thread {index}")[0] for index in range(7)]

        ascending, pages = walk(api, "threads.list", limit, "asc")
        assert ascending == created
        assert pages == max(1, -(-7 // limit))
        descending, _ = walk(api, "threads.list", limit, "desc")
        assert descending == created[::-1]
        # The default order is newest first, 20 per page.
        default = api.json("threads.list")
        assert [thread["id"] for thread in default["data"]] == created[::-1]
        assert default["data"][0]["title"] == "thread 6"


@pytest.mark.parametrize("limit", [1, 2, 4, 9])
def test_items_list_pagination(api: Api, limit: int) -> None:
    thread_id, _ = api.new_thread("one")
    for text in ("two", "three", "four"):
        api.say(thread_id, text)
    everything = api.items(thread_id, order="asc", limit=100)
    assert len(everything) == 8
    all_ids = [item["id"] for item in everything]
    assert [item["content"][0]["text"] for item in everything][::2] == ["one", "two", "three", "four"]

    ascending, _ = walk(api, "items.list", limit, "asc", thread_id=thread_id)
    assert ascending == all_ids
    descending, _ = walk(api, "items.list", limit, "desc", thread_id=thread_id)
    assert descending == all_ids[::-1]

    middle = api.json("items.list", thread_id=thread_id, order="asc", after=all_ids[2], limit=3)
    assert [item["id"] for item in middle["data"]] == all_ids[3:6]
    assert middle["has_more"] is True
    backwards = api.json("items.list", thread_id=thread_id, order="desc", after=all_ids[2], limit=3)
    assert [item["id"] for item in backwards["data"]] == [all_ids[1], all_ids[0]]
    assert backwards["has_more"] is False


def test_pagination_errors(api: Api) -> None:
    thread_id, _ = api.new_thread("cursor")
    assert api.call("items.list", thread_id=thread_id, after="msg_unknown").status_code == 404
    assert api.call("threads.list", after="thr_unknown").status_code == 404
    assert api.call("items.list", thread_id="thr_unknown").status_code == 404
    assert api.call("items.list", thread_id=thread_id, limit=-1).status_code == 400
    assert api.call("items.list", thread_id=thread_id, order="sideways").status_code == 400


# ----- attachments -----


def test_attachments_create_describes_a_two_phase_upload(api: Api) -> None:
    document = api.create_attachment("notes.txt", 5, "text/plain")
    assert document["type"] == "file"
    assert document["name"] == "notes.txt" and document["mime_type"] == "text/plain"
    assert document["upload_descriptor"] == {
        "url": f"{api.running.origin}/chatkit/upload/{document['id']}",
        "method": "POST",
        "headers": {},
    }
    assert "preview_url" not in document

    picture = api.create_attachment("cat.png", 3, "image/png")
    assert picture["type"] == "image"
    assert picture["preview_url"] == f"{api.running.origin}/chatkit/preview/{picture['id']}"


def test_two_phase_upload_multipart_and_raw(api: Api) -> None:
    document = api.create_attachment("notes.txt", 5, "text/plain")
    response = api.client.post(
        document["upload_descriptor"]["url"], files={"file": ("notes.txt", b"hello", "text/plain")}
    )
    assert response.status_code == 200, response.text
    assert response.json()["id"] == document["id"]
    assert "upload_descriptor" not in response.json()
    assert api.running.store.read_attachment_bytes(document["id"]) == b"hello"

    picture = api.create_attachment("dot.png", 4, "image/png")
    response = api.client.post(
        picture["upload_descriptor"]["url"], content=b"\x89PNG", headers={"content-type": "image/png"}
    )
    assert response.status_code == 200, response.text
    preview = api.client.get(picture["preview_url"])
    assert preview.status_code == 200
    assert preview.content == b"\x89PNG"
    assert preview.headers["content-type"].startswith("image/png")

    thread_id, events = api.new_thread("look", attachments=[document["id"], picture["id"]])
    assert assistant_texts(events) == [
        "You said: look\nAttachments: notes.txt (text/plain, 5 bytes), dot.png (image/png, 4 bytes)"
    ]
    user_item = done_items(events, "user_message")[0]
    assert [attachment["id"] for attachment in user_item["attachments"]] == [document["id"], picture["id"]]
    assert api.items(thread_id, order="asc")[0]["attachments"][0]["thread_id"] == thread_id


def test_large_raw_upload_spills_to_disk_and_streams_back(api: Api) -> None:
    size = 3 * InMemoryStore.MEMORY_LIMIT + 123
    payload = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    picture = api.create_attachment("big.png", size, "image/png")

    def body() -> Iterator[bytes]:
        for start in range(0, len(payload), 100_000):
            yield payload[start : start + 100_000]

    response = api.client.post(
        picture["upload_descriptor"]["url"], content=body(), headers={"content-type": "application/octet-stream"}
    )
    assert response.status_code == 200, response.text
    assert api.running.store.attachment_size(picture["id"]) == size
    assert api.client.get(picture["preview_url"]).content == payload

    # A second upload replaces the first.
    response = api.client.post(picture["upload_descriptor"]["url"], content=b"small")
    assert response.status_code == 200
    assert api.client.get(picture["preview_url"]).content == b"small"


def test_direct_upload(api: Api) -> None:
    response = api.client.post(api.running.direct_upload_url, files={"file": ("report.csv", b"a,b\n1,2\n", "text/csv")})
    assert response.status_code == 200, response.text
    attachment = response.json()
    assert attachment["type"] == "file"
    assert attachment["name"] == "report.csv" and attachment["mime_type"] == "text/csv"
    assert "upload_descriptor" not in attachment
    assert api.running.store.read_attachment_bytes(attachment["id"]) == b"a,b\n1,2\n"

    image = api.client.post(api.running.direct_upload_url, files={"file": ("p.gif", b"GIF89a", "image/gif")}).json()
    assert image["type"] == "image"
    assert api.client.get(image["preview_url"]).content == b"GIF89a"

    _, events = api.new_thread("", attachments=[attachment["id"]])
    assert assistant_texts(events) == ["You said: \nAttachments: report.csv (text/csv, 8 bytes)"]
    assert of_type(events, "thread.updated")[0]["thread"]["title"] == "New conversation"


def test_upload_errors(api: Api) -> None:
    assert api.client.post(api.running.direct_upload_url, content=b"raw").status_code == 400
    no_file = api.client.post(api.running.direct_upload_url, files={"other": ("a", b"b")})
    assert no_file.status_code == 400
    assert no_file.json()["error"]["code"] == "missing_file"
    assert api.client.post(api.running.origin + "/chatkit/upload/atc_missing", content=b"x").status_code == 404
    assert api.client.get(api.running.origin + "/chatkit/preview/atc_missing").status_code == 404

    pending = api.create_attachment("later.png", 1, "image/png")
    assert api.client.get(pending["preview_url"]).status_code == 404
    # A message naming an unknown attachment.
    assert api.call("threads.create", input=user_input("hi", ["atc_missing"])).status_code == 404


def test_attachments_delete(api: Api) -> None:
    attachment = api.create_attachment("gone.txt", 1, "text/plain")
    api.client.post(attachment["upload_descriptor"]["url"], content=b"x")
    assert api.json("attachments.delete", attachment_id=attachment["id"]) == {}
    assert api.client.post(attachment["upload_descriptor"]["url"], content=b"x").status_code == 404
    assert not api.running.store.has_bytes(attachment["id"])


# ----- errors and headers -----


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"type": "threads.explode", "params": {}}',
        b'{"type": "threads.get_by_id", "params": {}}',
        b'{"type": "threads.create", "params": {"input": {"content": "hi"}}}',
    ],
)
def test_a_bad_body_is_a_400(api: Api, body: bytes) -> None:
    response = api.client.post(api.running.url, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith("Invalid request")


def test_unknown_thread_in_a_streaming_request_is_a_404(api: Api) -> None:
    response = api.call("threads.add_user_message", thread_id="thr_nope", input=user_input("hi"))
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert "thr_nope" in response.json()["error"]["message"]


def test_required_headers_guard_every_route() -> None:
    secret = "Bearer s3cret-value"
    with serve_local_server(required_headers={"Authorization": secret, "X-Tenant": "acme"}) as running:
        good = {"authorization": secret, "x-tenant": "acme"}
        with httpx2.Client(timeout=30) as client:
            attempts = [
                ("POST", running.url, {"json": {"type": "threads.list", "params": {}}}),
                ("POST", running.direct_upload_url, {"files": {"file": ("a.txt", b"a", "text/plain")}}),
                ("POST", running.origin + "/chatkit/upload/atc_x", {"content": b"a"}),
                ("GET", running.origin + "/chatkit/preview/atc_x", {}),
            ]
            for method, url, extra in attempts:
                for headers in ({}, {"authorization": secret}, {**good, "x-tenant": "other"}):
                    response = client.request(method, url, headers=headers, **extra)
                    assert response.status_code == 401, (url, headers)
                    assert secret not in response.text and "s3cret" not in response.text
                    assert response.json()["error"]["code"] == "unauthorized"

            assert client.post(running.url, json={"type": "threads.list", "params": {}}, headers=good).json() == {
                "data": [],
                "has_more": False,
            }
            upload = client.post(
                running.direct_upload_url, files={"file": ("a.png", b"img", "image/png")}, headers=good
            )
            assert upload.status_code == 200
            assert client.get(upload.json()["preview_url"], headers=good).content == b"img"


def test_running_server_urls_and_custom_server() -> None:
    server = LocalChatKitServer(slow_delay=0)
    with serve_local_server(server=server) as running:
        assert running.server is server
        assert running.store is server.store
        assert running.url == running.origin + "/chatkit"
        assert running.direct_upload_url == running.origin + "/chatkit/files"
        with httpx2.Client(timeout=30) as client:
            api = Api(client, running)
            _, events = api.new_thread("slow 2")
            assert deltas(events) == ["w0 ", "w1 "]
            assert client.get(running.origin + "/v1/anything").status_code == 404
