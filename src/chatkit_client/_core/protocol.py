"""The ChatKit protocol's requests, built exactly and checked before sending (docs/protocol.md §2.1-2.3).

Every request is one JSON envelope `{"type", "params"}` POSTed to the conversation endpoint (hosted)
or to the server's URL (self-hosted); the first six types below answer with an SSE stream, the
others with JSON.

Imports: stdlib, _exceptions.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from .._exceptions import APIResponseValidationError, InvalidInputError

__all__ = [
    "STREAMING_TYPES",
    "action_params",
    "attachment_create_request",
    "check_json_serialisable",
    "check_strings",
    "check_text",
    "delete_attachment_request",
    "envelope",
    "feedback_params",
    "is_streaming",
    "list_params",
    "message_request",
    "rename_request",
    "require_thread",
    "retry_request",
    "structured_input_request",
    "tool_output_request",
    "transcribe_request",
    "transcription_text",
    "user_input",
]

STREAMING_TYPES = frozenset(
    {
        "threads.create",
        "threads.add_user_message",
        "threads.add_client_tool_output",
        "threads.add_structured_input",
        "threads.retry_after_item",
        "threads.custom_action",
    }
)

FeedbackKind = Literal["positive", "negative"]


def is_streaming(request_type: str) -> bool:
    return request_type in STREAMING_TYPES


def envelope(request_type: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """`{"type": ..., "params": {...}}`; `metadata` is left out since the hosted API never needed it."""
    return {"type": request_type, "params": dict(params or {})}


def check_json_serialisable(value: object, field: str) -> None:
    """Raise `InvalidInputError` unless `value` survives strict JSON encoding (no NaN, no objects)."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as err:  # RecursionError: nested thousands of levels deep
        raise InvalidInputError(
            field, f"must be JSON-serialisable (dicts, lists, strings, numbers, booleans, None): {err}"
        ) from err
    check_strings(value, field)


# Writes strings as they are: a lone surrogate anywhere (a value or a key) then fails `encode("utf-8")`.
_RAW_JSON = json.JSONEncoder(ensure_ascii=False)


def check_strings(value: object, field: str) -> None:
    """`check_text` on every string (keys too) inside dicts and lists, naming where the bad one is."""
    try:
        # Plain JSON data with no lone surrogate (every request) is cleared in C; anything else (other objects,
        # a bad string) takes the walk below, which ignores what is not text and names the bad string.
        _RAW_JSON.encode(value).encode("utf-8")
    except Exception:  # the walk decides
        pass
    else:
        return
    _check_strings(value, field)


def _check_strings(value: object, field: str) -> None:
    if isinstance(value, str):
        check_text(value, field)
    elif isinstance(value, Mapping):
        for key, inner in value.items():
            if isinstance(key, str) and key.isidentifier():
                name = f"{field}.{key}" if field else key
            else:
                name = f"{field}[{key!a}]"
            if isinstance(key, str):
                check_text(key, f"{field or 'body'} (a key)")
            _check_strings(inner, name)
    elif isinstance(value, list | tuple):
        for index, inner in enumerate(value):
            _check_strings(inner, f"{field}[{index}]")


def check_text(value: str, field: str) -> str:
    """`value` unless it cannot be sent as UTF-8: a lone surrogate (half of a pair, e.g. from a bad decode).

    >>> check_text("héllo 👋", "text")
    'héllo 👋'
    """
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        raise InvalidInputError(
            field,
            f"contains a lone surrogate ({value[err.start]!a} at index {err.start}), which is not valid "
            "Unicode text; fix how the text was decoded (e.g. errors='replace')",
        ) from None
    return value


def _tool_choice(value: object) -> dict[str, str]:
    if isinstance(value, str) and value:
        return {"id": value}
    if isinstance(value, Mapping) and isinstance(value.get("id"), str) and value["id"]:
        return {"id": value["id"]}
    raise InvalidInputError("tool_choice", f"must be a tool id string or {{'id': ...}}, got {value!r}")


def user_input(
    text: str | None,
    *,
    attachments: Sequence[str] = (),
    has_files: bool = False,
    quoted_text: str | None = None,
    model: str | None = None,
    tool_choice: object = None,
) -> dict[str, Any]:
    """The `input` of `threads.create` / `threads.add_user_message`: always `content`, `attachments` and
    `inference_options`, plus `quoted_text` when given.

    >>> user_input("Hello")
    {'content': [{'type': 'input_text', 'text': 'Hello'}], 'attachments': [], 'inference_options': {}}
    """
    if text is not None and not isinstance(text, str):
        raise InvalidInputError("text", f"must be a string, got {type(text).__name__}")
    if text:
        check_text(text, "text")
    if not text and not attachments and not has_files:
        raise InvalidInputError("text", "must not be empty unless files or attachments are given")
    ids: list[str] = []
    for index, attachment in enumerate(attachments):
        if not isinstance(attachment, str) or not attachment:
            raise InvalidInputError(f"attachments[{index}]", f"must be an uploaded file id string, got {attachment!r}")
        ids.append(attachment)
    options: dict[str, Any] = {}
    if model is not None:
        if not isinstance(model, str) or not model:
            raise InvalidInputError("model", f"must be a non-empty model name, got {model!r}")
        options["model"] = model
    if tool_choice is not None:
        options["tool_choice"] = _tool_choice(tool_choice)
    result: dict[str, Any] = {
        "content": [{"type": "input_text", "text": text}] if text else [],
        "attachments": ids,
        "inference_options": options,
    }
    if quoted_text is not None:
        if not isinstance(quoted_text, str):
            raise InvalidInputError("quoted_text", f"must be a string, got {type(quoted_text).__name__}")
        result["quoted_text"] = check_text(quoted_text, "quoted_text")
    return result


def require_thread(thread_id: str | None, operation: str) -> str:
    if not thread_id:
        raise InvalidInputError("thread_id", f"{operation} needs a thread: send a message first or pass thread_id=")
    return thread_id


def feedback_params(thread_id: str, item_ids: object, kind: object) -> dict[str, Any]:
    if isinstance(item_ids, str):
        item_ids = [item_ids]
    if not isinstance(item_ids, Sequence) or not item_ids or not all(isinstance(i, str) and i for i in item_ids):
        raise InvalidInputError("item_ids", "must be a non-empty list of item id strings")
    if kind not in ("positive", "negative"):
        raise InvalidInputError("kind", f"must be 'positive' or 'negative', got {kind!r}")
    return {"thread_id": thread_id, "item_ids": list(item_ids), "kind": kind}


def action_params(thread_id: str, action: object, item_id: str | None) -> dict[str, Any]:
    if not isinstance(action, Mapping) or not isinstance(action.get("type"), str) or not action["type"]:
        raise InvalidInputError("action", "must be a dict with a non-empty 'type' (and an optional 'payload')")
    body: dict[str, Any] = {"type": action["type"], "payload": action.get("payload")}
    for key, value in action.items():
        if key not in body:
            body[key] = value
    check_json_serialisable(body, "action")
    return {"thread_id": thread_id, "item_id": item_id, "action": body}


def list_params(*, limit: object, order: object, after: str | None, thread_id: str | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if thread_id is not None:
        params["thread_id"] = thread_id
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidInputError("limit", f"must be a whole number of 1 or more, got {limit!r}")
        params["limit"] = limit
    if order not in ("asc", "desc"):
        raise InvalidInputError("order", f"must be 'asc' or 'desc', got {order!r}")
    params["order"] = order
    if after is not None:
        params["after"] = after
    return params


def message_request(message: Mapping[str, Any], thread_id: str | None) -> dict[str, Any]:
    """`threads.create` for a Chat's first message, `threads.add_user_message` after that."""
    if thread_id:
        return envelope("threads.add_user_message", {"thread_id": thread_id, "input": dict(message)})
    return envelope("threads.create", {"input": dict(message)})


def retry_request(thread_id: str, item_id: str | None) -> dict[str, Any]:
    if not item_id:
        raise InvalidInputError("item_id", "there is no user message in this thread to retry from")
    return envelope("threads.retry_after_item", {"thread_id": thread_id, "item_id": item_id})


def rename_request(thread_id: str, title: object) -> dict[str, Any]:
    if not isinstance(title, str) or not title.strip():
        raise InvalidInputError("title", "must be a non-empty string")
    return envelope("threads.update", {"thread_id": thread_id, "title": check_text(title, "title")})


def tool_output_request(thread_id: str | None, result: object) -> dict[str, Any]:
    check_json_serialisable(result, "result")
    return envelope("threads.add_client_tool_output", {"thread_id": thread_id, "result": result})


def attachment_create_request(filename: str, size: int | None, mime_type: str) -> dict[str, Any]:
    """`attachments.create` of a self-hosted two-phase upload, which needs the size up front."""
    if size is None:
        raise InvalidInputError("files", f"{filename}: its size is unknown; pass a path, bytes or a seekable file")
    return envelope("attachments.create", {"name": filename, "size": size, "mime_type": mime_type})


def structured_input_request(
    thread_id: str, item_id: object, answers: object, *, skipped: bool = False
) -> dict[str, Any]:
    """`threads.add_structured_input`: answers keyed by question id, each a value, a list of values, or
    None to skip that question.

    >>> structured_input_request("thr_1", "si_1", {"color": "red", "name": None})["params"]["input"]["answers"]
    {'color': {'values': ['red'], 'skipped': False}, 'name': {'values': [], 'skipped': True}}
    """
    if not isinstance(item_id, str) or not item_id:
        raise InvalidInputError("item_id", "must be the id of the pending structured input item")
    if not isinstance(answers, Mapping):
        raise InvalidInputError("answers", "must be a dict of question id to a value or a list of values")
    submitted: dict[str, Any] = {}
    for question, value in answers.items():
        if isinstance(question, str) and value is None:
            submitted[question] = {"values": [], "skipped": True}
            continue
        values = [value] if isinstance(value, str) else value
        if (
            not isinstance(question, str)
            or not isinstance(values, Sequence)
            or not all(isinstance(v, str) for v in values)
        ):
            raise InvalidInputError(f"answers[{question!r}]", "must be a string, a list of strings or None (skipped)")
        submitted[question] = {"values": list(values), "skipped": False}
    status = "skipped" if skipped else "answered"
    return envelope(
        "threads.add_structured_input",
        {"thread_id": thread_id, "item_id": item_id, "input": {"status": status, "answers": submitted}},
    )


def transcribe_request(audio: bytes, mime_type: str) -> dict[str, Any]:
    """`input.transcribe`: the audio as base64 with its MIME type (e.g. `audio/webm;codecs=opus`)."""
    if not audio:
        raise InvalidInputError("audio", "is empty: there is nothing to transcribe")
    return envelope(
        "input.transcribe",
        {"audio_base64": base64.b64encode(audio).decode("ascii"), "mime_type": mime_type},
    )


def transcription_text(body: object) -> str:
    """The `text` of an `input.transcribe` answer."""
    text = body.get("text") if isinstance(body, Mapping) else None
    if not isinstance(text, str):
        raise APIResponseValidationError(
            f"expected a transcription object with a 'text' string, got {type(body).__name__}", body=body
        )
    return text


def delete_attachment_request(attachment_id: object) -> dict[str, Any]:
    """`attachments.delete` of an attachment created by `attachments.create` or uploaded directly."""
    if not isinstance(attachment_id, str) or not attachment_id.strip():
        raise InvalidInputError("attachment_id", f"must be an attachment id string, got {attachment_id!r}")
    return envelope("attachments.delete", {"attachment_id": attachment_id})
