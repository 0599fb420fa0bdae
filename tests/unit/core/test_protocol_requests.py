"""Every envelope `_core/protocol.py` builds, as the exact JSON sent, and every refusal, naming its field.

(`structured_input_request` answers, `transcribe_request`, `transcription_text` and `delete_attachment_request`
are in tests/unit/test_protocol_types.py; this file holds the rest and the edges those leave.)
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from chatkit_client._core.protocol import (
    STREAMING_TYPES,
    action_params,
    attachment_create_request,
    check_json_serialisable,
    check_text,
    delete_attachment_request,
    envelope,
    feedback_params,
    is_streaming,
    list_params,
    message_request,
    rename_request,
    require_thread,
    retry_request,
    structured_input_request,
    tool_output_request,
    transcribe_request,
    transcription_text,
    user_input,
)
from chatkit_client._exceptions import APIResponseValidationError, InvalidInputError

LONE = "\ud83d"  # half of a surrogate pair: cannot be encoded as UTF-8


def wire(request: dict[str, Any]) -> str:
    """The body as sent: strict JSON, key order kept."""
    return json.dumps(request, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def refused(field: str, call: Any, *args: Any, **kwargs: Any) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as caught:
        call(*args, **kwargs)
    assert caught.value.field == field, caught.value.message
    assert caught.value.message.startswith(f"{field}: ")
    return caught.value


# -- envelopes ------------------------------------------------------------------------------------------


def test_the_six_streaming_types_and_no_other() -> None:
    assert sorted(STREAMING_TYPES) == [
        "threads.add_client_tool_output",
        "threads.add_structured_input",
        "threads.add_user_message",
        "threads.create",
        "threads.custom_action",
        "threads.retry_after_item",
    ]
    for request_type in ("threads.get_by_id", "threads.list", "items.list", "threads.update", "threads.delete",
                         "items.feedback", "attachments.create", "attachments.delete", "input.transcribe",
                         "threads.sync_custom_action"):
        assert not is_streaming(request_type)
    assert all(is_streaming(request_type) for request_type in STREAMING_TYPES)


def test_an_envelope_copies_its_params_and_never_has_metadata() -> None:
    params = {"thread_id": "thr_1"}
    request = envelope("threads.get_by_id", params)
    params["thread_id"] = "changed"
    assert wire(request) == '{"type":"threads.get_by_id","params":{"thread_id":"thr_1"}}'
    assert wire(envelope("threads.list")) == '{"type":"threads.list","params":{}}'


def test_a_first_message_creates_the_thread_and_later_ones_add_to_it() -> None:
    message = user_input("Bonjour 👋")
    assert wire(message_request(message, None)) == (
        '{"type":"threads.create","params":{"input":{"content":[{"type":"input_text","text":"Bonjour 👋"}],'
        '"attachments":[],"inference_options":{}}}}'
    )
    assert wire(message_request(message, "thr_1")) == (
        '{"type":"threads.add_user_message","params":{"thread_id":"thr_1","input":{"content":'
        '[{"type":"input_text","text":"Bonjour 👋"}],"attachments":[],"inference_options":{}}}}'
    )
    # An empty thread id is no thread: a new one is created.
    assert message_request(message, "")["type"] == "threads.create"


def test_user_input_with_every_option() -> None:
    message = user_input(
        "Compare",
        attachments=["atc_1", "atc_2"],
        quoted_text="« cité »",
        model="gpt-5",
        tool_choice="web_search",
    )
    assert wire(message) == (
        '{"content":[{"type":"input_text","text":"Compare"}],"attachments":["atc_1","atc_2"],'
        '"inference_options":{"model":"gpt-5","tool_choice":{"id":"web_search"}},"quoted_text":"« cité »"}'
    )
    assert user_input("x", tool_choice={"id": "t", "ignored": 1})["inference_options"] == {"tool_choice": {"id": "t"}}


def test_files_or_attachments_alone_send_no_text_part() -> None:
    assert user_input(None, has_files=True) == {"content": [], "attachments": [], "inference_options": {}}
    assert user_input("", attachments=("atc_1",))["content"] == []
    assert user_input(None, attachments=["atc_1"])["attachments"] == ["atc_1"]
    # An empty quoted text is still sent (the server keeps it as given).
    assert user_input("x", quoted_text="")["quoted_text"] == ""


@pytest.mark.parametrize(
    ("kwargs", "field", "hint"),
    [
        ({"text": None}, "text", "must not be empty unless files or attachments"),
        ({"text": ""}, "text", "must not be empty"),
        ({"text": b"bytes"}, "text", "must be a string, got bytes"),
        ({"text": f"a{LONE}b"}, "text", "lone surrogate ('\\ud83d' at index 1)"),
        ({"text": "x", "attachments": ["atc_1", ""]}, "attachments[1]", "uploaded file id string"),
        ({"text": "x", "attachments": [None]}, "attachments[0]", "got None"),
        ({"text": "x", "model": ""}, "model", "non-empty model name"),
        ({"text": "x", "model": 5}, "model", "got 5"),
        ({"text": "x", "tool_choice": ""}, "tool_choice", "tool id string or {'id': ...}"),
        ({"text": "x", "tool_choice": {"name": "t"}}, "tool_choice", "tool id string"),
        ({"text": "x", "tool_choice": 3}, "tool_choice", "got 3"),
        ({"text": "x", "quoted_text": 3}, "quoted_text", "must be a string, got int"),
        ({"text": "x", "quoted_text": LONE}, "quoted_text", "lone surrogate"),
    ],
)
def test_user_input_refusals(kwargs: dict[str, Any], field: str, hint: str) -> None:
    text = kwargs.pop("text")
    err = refused(field, user_input, text, **kwargs)
    assert hint in err.message


def test_requests_about_one_thread() -> None:
    assert wire(retry_request("thr_1", "msg_1")) == (
        '{"type":"threads.retry_after_item","params":{"thread_id":"thr_1","item_id":"msg_1"}}'
    )
    assert wire(rename_request("thr_1", "Résumé 📄")) == (
        '{"type":"threads.update","params":{"thread_id":"thr_1","title":"Résumé 📄"}}'
    )
    assert require_thread("thr_1", "feedback") == "thr_1"
    assert "no user message in this thread" in refused("item_id", retry_request, "thr_1", None).message
    assert "send a message first" in refused("thread_id", require_thread, None, "rename").message
    assert refused("thread_id", require_thread, "", "retry").message.startswith("thread_id: retry needs a thread")
    for title in ("", "   ", None, 5):
        refused("title", rename_request, "thr_1", title)
    assert "lone surrogate" in refused("title", rename_request, "thr_1", f"t{LONE}").message


def test_tool_outputs_are_any_strict_json_value() -> None:
    for result in ({"temp": 21}, [1, "a", None], "sunny", 0, None, True):
        request = tool_output_request("thr_1", result)
        assert json.loads(wire(request)) == {
            "type": "threads.add_client_tool_output",
            "params": {"thread_id": "thr_1", "result": result},
        }
    assert tool_output_request(None, 1)["params"] == {"thread_id": None, "result": 1}


@pytest.mark.parametrize(
    ("result", "field", "hint"),
    [
        (float("nan"), "result", "JSON-serialisable"),
        ({"v": float("inf")}, "result", "Out of range float"),
        ({"when": object()}, "result", "not JSON serializable"),
        ({1, 2}, "result", "set is not JSON serializable"),
        (b"raw", "result", "bytes is not JSON serializable"),
        ({"list": [0, {"deep": LONE}]}, "result.list[1].deep", "lone surrogate"),
        ({"a key": LONE}, "result['a key']", "lone surrogate"),
        ({LONE: 1}, "result (a key)", "lone surrogate"),
    ],
)
def test_a_tool_output_that_is_not_strict_json_is_refused_at_its_path(result: object, field: str, hint: str) -> None:
    assert hint in refused(field, tool_output_request, "thr_1", result).message


def test_check_json_serialisable_names_the_path_inside_lists_and_tuples() -> None:
    refused("payload[2][0]", check_json_serialisable, [1, 2, (LONE,)], "payload")
    refused("body (a key)", check_json_serialisable, {LONE: 1}, "")
    check_json_serialisable({"ok": ["é", 1.5, None]}, "payload")
    assert check_text("plain", "f") == "plain"


def test_feedback_params() -> None:
    assert feedback_params("thr_1", "msg_1", "positive") == {
        "thread_id": "thr_1", "item_ids": ["msg_1"], "kind": "positive",
    }
    assert feedback_params("thr_1", ("a", "b"), "negative")["item_ids"] == ["a", "b"]
    for ids in ([], [""], ["a", 3], None, 7):
        refused("item_ids", feedback_params, "thr_1", ids, "positive")
    assert "'positive' or 'negative', got 'up'" in refused("kind", feedback_params, "thr_1", ["a"], "up").message


def test_action_params_keep_extra_keys_and_default_the_payload() -> None:
    assert wire(action_params("thr_1", {"type": "vote"}, None)) == (
        '{"thread_id":"thr_1","item_id":null,"action":{"type":"vote","payload":null}}'
    )
    params = action_params("thr_1", {"loadingBehavior": "self", "payload": {"n": 1}, "type": "vote"}, "w_1")
    # `type` and `payload` first, then the rest as given.
    assert wire(params) == (
        '{"thread_id":"thr_1","item_id":"w_1","action":{"type":"vote","payload":{"n":1},"loadingBehavior":"self"}}'
    )
    for action in (None, "vote", {"payload": 1}, {"type": ""}, {"type": 3}):
        assert "non-empty 'type'" in refused("action", action_params, "thr_1", action, None).message
    refused("action", action_params, "thr_1", {"type": "v", "payload": {"x": float("nan")}}, None)
    refused("action.payload.x", action_params, "thr_1", {"type": "v", "payload": {"x": LONE}}, None)


def test_protocol_list_params() -> None:
    assert list_params(limit=20, order="desc", after=None, thread_id="thr_1") == {
        "thread_id": "thr_1", "limit": 20, "order": "desc",
    }
    assert list_params(limit=None, order="asc", after="thr_9") == {"order": "asc", "after": "thr_9"}
    for limit in (0, -1, True, 2.0, "10"):
        assert "1 or more" in refused("limit", list_params, limit=limit, order="asc", after=None).message
    refused("order", list_params, limit=None, order=None, after=None)
    refused("order", list_params, limit=None, order="newest", after=None)


def test_attachment_create_and_delete() -> None:
    assert wire(attachment_create_request("report.pdf", 1234, "application/pdf")) == (
        '{"type":"attachments.create","params":{"name":"report.pdf","size":1234,"mime_type":"application/pdf"}}'
    )
    assert attachment_create_request("empty.txt", 0, "text/plain")["params"]["size"] == 0
    err = refused("files", attachment_create_request, "pipe.bin", None, "application/octet-stream")
    assert err.message == "files: pipe.bin: its size is unknown; pass a path, bytes or a seekable file"
    for bad in ("", "  ", 5):
        refused("attachment_id", delete_attachment_request, bad)


def test_structured_input_edges() -> None:
    request = structured_input_request("thr_1", "si_1", {"q": ("a", "b"), "empty": []}, skipped=True)
    assert wire(request) == (
        '{"type":"threads.add_structured_input","params":{"thread_id":"thr_1","item_id":"si_1","input":'
        '{"status":"skipped","answers":{"q":{"values":["a","b"],"skipped":false},'
        '"empty":{"values":[],"skipped":false}}}}}'
    )
    assert structured_input_request("thr_1", "si_1", {})["params"]["input"] == {"status": "answered", "answers": {}}
    for item_id in ("", None, 5):
        refused("item_id", structured_input_request, "thr_1", item_id, {})
    refused("answers", structured_input_request, "thr_1", "si_1", [("q", "a")])
    refused("answers[1]", structured_input_request, "thr_1", "si_1", {1: "a"})
    refused("answers['q']", structured_input_request, "thr_1", "si_1", {"q": ["a", 2]})


def test_transcription_edges() -> None:
    assert transcribe_request(b"\xff", "audio/wav")["params"]["audio_base64"] == "/w=="
    assert "nothing to transcribe" in refused("audio", transcribe_request, b"", "audio/wav").message
    for body in (None, ["text"], {"text": 5}, "hello"):
        with pytest.raises(APIResponseValidationError, match="'text' string"):
            transcription_text(body)
    assert transcription_text({"text": "", "language": "fr"}) == ""


def test_a_value_nested_too_deep_to_encode_is_refused_by_name() -> None:
    deep: list[Any] = []
    for _ in range(5_000):
        deep = [deep]
    with pytest.raises(InvalidInputError) as caught:
        tool_output_request("thr_1", deep)
    assert caught.value.field == "result" and "must be JSON-serialisable" in caught.value.message
