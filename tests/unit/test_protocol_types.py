"""Typed structured input and hidden context items, `reply.pending_structured_input`, the requests of
`input.transcribe` / `attachments.delete` / structured answers, audio input checks and page-envelope reading."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import pytest

from chatkit_client import APIResponseValidationError, InvalidInputError
from chatkit_client._core.audio import MAX_AUDIO_BYTES, read_audio
from chatkit_client._core.pages import parse_page
from chatkit_client._core.protocol import (
    delete_attachment_request,
    structured_input_request,
    transcribe_request,
    transcription_text,
)
from chatkit_client._core.reply import ReplyBuilder
from chatkit_client.types import (
    HiddenContextItem,
    SDKHiddenContextItem,
    StructuredInputItem,
    UnknownItem,
    parse_event,
    parse_item,
)

BASE = {"id": "si_1", "thread_id": "thr_1", "created_at": "2026-01-23T16:15:25"}
QUESTIONS = [
    {
        "type": "multiple_choice",
        "id": "color",
        "question": "Which color?",
        "options": [{"value": "red"}],
        "multiple": True,
    },
    {"type": "freeform", "id": "name", "question": "Your name?", "description": "Any", "answer": {"values": ["Ada"]}},
]


@pytest.mark.parametrize("spelling", ["structured_input", "chatkit.structured_input"])
def test_structured_input_is_a_typed_item_in_both_spellings(spelling: str) -> None:
    item = parse_item({**BASE, "type": spelling, "status": "pending", "inputs": QUESTIONS})
    assert isinstance(item, StructuredInputItem)
    assert item.type == "structured_input" and item.status == "pending"
    color, name = item.inputs
    assert (color.id, color.multiple, [o.value for o in color.options]) == ("color", True, ["red"])
    assert (name.type, name.description, name.options) == ("freeform", "Any", [])
    assert name.answer is not None and name.answer.values == ["Ada"] and not name.answer.skipped


def test_hidden_context_items_are_typed_and_a_future_question_type_is_kept() -> None:
    hidden = parse_item({**BASE, "type": "hidden_context_item", "content": {"note": 1}})
    sdk = parse_item({**BASE, "type": "sdk_hidden_context", "content": "The user cancelled the stream."})
    future = parse_item({**BASE, "type": "structured_input", "inputs": [{"type": "date", "id": "when", "min": 1}]})
    assert isinstance(hidden, HiddenContextItem) and hidden.content == {"note": 1}
    assert isinstance(sdk, SDKHiddenContextItem) and sdk.content.startswith("The user cancelled")
    assert isinstance(future, StructuredInputItem) and future.inputs[0].type == "date"
    assert future.inputs[0].model_extra == {"min": 1}
    assert not isinstance(future, UnknownItem)


def _event(obj: dict[str, Any]) -> Any:
    import json

    return parse_event(json.dumps(obj))


def test_reply_pending_structured_input_until_the_item_is_replaced_as_answered() -> None:
    builder = ReplyBuilder()
    pending = {**BASE, "type": "structured_input", "status": "pending", "inputs": QUESTIONS}
    builder.apply(_event({"type": "thread.item.done", "item": pending}))
    asked = builder.reply()
    builder.apply(_event({"type": "thread.item.replaced", "item": {**pending, "status": "answered"}}))
    assert asked.pending_structured_input is not None and asked.pending_structured_input.id == "si_1"
    assert asked.pending_client_tool_call is None
    assert builder.reply().pending_structured_input is None


def test_structured_answers_accept_a_value_a_list_or_none_for_skipped() -> None:
    request = structured_input_request("thr_1", "si_1", {"color": ["red", "blue"], "name": "Ada", "age": None})
    assert request["type"] == "threads.add_structured_input"
    assert request["params"]["input"] == {
        "status": "answered",
        "answers": {
            "color": {"values": ["red", "blue"], "skipped": False},
            "name": {"values": ["Ada"], "skipped": False},
            "age": {"values": [], "skipped": True},
        },
    }
    with pytest.raises(InvalidInputError, match=r"answers\['color'\]"):
        structured_input_request("thr_1", "si_1", {"color": 3})


def test_transcribe_and_delete_requests() -> None:
    request = transcribe_request(b"\x00\x01voice", "audio/webm;codecs=opus")
    assert request == {
        "type": "input.transcribe",
        "params": {"audio_base64": base64.b64encode(b"\x00\x01voice").decode(), "mime_type": "audio/webm;codecs=opus"},
    }
    assert transcription_text({"text": "hello"}) == "hello"
    with pytest.raises(APIResponseValidationError, match="'text'"):
        transcription_text({"transcript": "hello"})
    assert delete_attachment_request("atc_1") == {"type": "attachments.delete", "params": {"attachment_id": "atc_1"}}
    with pytest.raises(InvalidInputError, match="attachment_id"):
        delete_attachment_request(None)


def test_audio_input_shapes_and_refusals(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp3"
    clip.write_bytes(b"ID3....")
    assert read_audio(clip, None) == (b"ID3....", "audio/mpeg")
    assert read_audio(str(clip), "audio/x-custom") == (b"ID3....", "audio/x-custom")
    named = io.BytesIO(b"OggS")
    named.name = "note.ogg"
    assert read_audio(named, None) == (b"OggS", "audio/ogg")
    with pytest.raises(InvalidInputError, match="mime_type"):
        read_audio(b"raw", None)
    with pytest.raises(InvalidInputError, match="mime_type"):
        read_audio(b"raw", "webm")
    with pytest.raises(InvalidInputError, match="not a file"):
        read_audio(tmp_path / "missing.wav", None)
    with pytest.raises(InvalidInputError, match="binary mode"):
        read_audio(io.StringIO("text"), "audio/wav")
    with pytest.raises(InvalidInputError, match="25 MB"):
        read_audio(io.BytesIO(bytes(MAX_AUDIO_BYTES + 1)), "audio/wav")


def _parse(body: Any) -> tuple[list[str], bool, str | None]:
    return parse_page(body, lambda entry: str(entry["id"]), what="threads")


def test_page_envelopes_read_has_more_tolerantly_only_where_it_is_unambiguous() -> None:
    assert _parse({"data": [{"id": "a"}], "has_more": True, "after": "a"}) == (["a"], True, "a")
    assert _parse({"data": [{"id": "a"}], "has_more": "false"})[1] is False
    assert _parse({"data": [{"id": "a"}], "has_more": " TRUE "})[1] is True
    assert _parse({"data": [], "has_more": None})[1] is False
    for odd in ("no", 1, 0, [], {"more": True}):
        with pytest.raises(APIResponseValidationError, match="has_more"):
            _parse({"data": [], "has_more": odd})
