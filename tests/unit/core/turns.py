"""Realistic conversation turns as event dicts and as the bytes a server sends, for the core's unit tests."""

from __future__ import annotations

import json
from typing import Any

THREAD = "cthr_" + "0a" * 24
USER = "cti_" + "01" * 24
WORKFLOW = "cti_" + "02" * 24
ASSISTANT = "cti_" + "03" * 24
CALL = "cti_" + "04" * 24
CREATED = "2026-01-23T16:15:25.661034Z"

# Text deltas with multibyte characters (2, 3 and 4 bytes), escapes (CR LF, quotes, backslash) and plain ones.
PIECES = ["Grüße ", "👋\r\n", "日本語で ", '"quoted" and \\ ', "€ 10"]
TEXT = "".join(PIECES)


def thread(title: str | None = None) -> dict[str, Any]:
    return {
        "id": THREAD,
        "created_at": "2026-01-23T16:15:25.515839",
        "status": {"type": "active"},
        "metadata": {},
        "title": title,
    }


def item(item_id: str, kind: str, **fields: Any) -> dict[str, Any]:
    return {"id": item_id, "thread_id": THREAD, "created_at": CREATED, "type": kind, **fields}


def added(item_id: str, kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": "thread.item.added", "item": item(item_id, kind, **fields)}


def done(item_id: str, kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": "thread.item.done", "item": item(item_id, kind, **fields)}


def update(item_id: str, kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": "thread.item.updated", "item_id": item_id, "update": {"type": kind, **fields}}


def delta(item_id: str, index: int, text: str) -> dict[str, Any]:
    return update(item_id, "assistant_message.content_part.text_delta", content_index=index, delta=text)


def output(*texts: str) -> list[dict[str, Any]]:
    return [{"type": "output_text", "text": text, "annotations": []} for text in texts]


def tool_call(call_id: str, item_id: str = CALL, name: str = "get_weather") -> dict[str, Any]:
    return done(item_id, "client_tool_call", name=name, arguments={"city": "Zürich"}, call_id=call_id, status="pending")


THOUGHT = {"type": "thought", "content": "考えています"}

ANSWER: list[dict[str, Any]] = [
    {"type": "thread.created", "thread": thread()},
    {"type": "stream_options", "stream_options": {"allow_cancel": True}},
    done(
        USER,
        "user_message",
        content=[{"type": "input_text", "text": "Grüße 👋, résume ce document"}],
        attachments=[],
        inference_options={},
    ),
    {"type": "progress_update", "icon": "search", "text": "Recherche… 🔎"},
    added(WORKFLOW, "workflow", workflow={"type": "reasoning", "tasks": []}),
    update(WORKFLOW, "workflow.task.added", task_index=0, task=THOUGHT),
    done(WORKFLOW, "workflow", workflow={"type": "reasoning", "tasks": [THOUGHT]}),
    added(ASSISTANT, "assistant_message", content=[]),
    update(ASSISTANT, "assistant_message.content_part.added", content_index=0, content=output("")[0]),
    *(delta(ASSISTANT, 0, piece) for piece in PIECES),
    {"type": "notice", "level": "warning", "message": "Quota presque atteint ⚠️", "title": "Quota"},
    {"type": "thread.updated", "thread": thread("Résumé 📄")},
    {"type": "client_effect", "name": "refresh", "data": {"view": "sidebar"}},
    update(ASSISTANT, "assistant_message.content_part.done", content_index=0, content=output(TEXT)[0]),
    done(ASSISTANT, "assistant_message", content=output(TEXT)),
]

ERROR = {"type": "error", "code": "stream.error", "message": "Le modèle a échoué 💥", "allow_retry": True}

# The three ways a turn's last round ends: an answer, a client tool call to run, an error event.
TURNS: dict[str, list[dict[str, Any]]] = {
    "answer": ANSWER,
    "tool_call": [*ANSWER, tool_call("call_1")],
    "error": [*ANSWER, ERROR],
}


def compact(obj: dict[str, Any]) -> str:
    """As servers serialise events: no spaces, non-ASCII as is (so plain text deltas take the fast path)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def wire(events: list[dict[str, Any]], *, newline: str = "\n", terminated: bool = True) -> bytes:
    """The SSE body for `events`, with the framing a real stream may carry: a BOM, comments, `event:`/`id:`
    lines, `data:` without its space, and an event split over several `data:` lines."""
    lines: list[str] = []
    for index, obj in enumerate(events):
        if index % 4 == 1:
            lines.append(": keepalive")
        if index % 5 == 2:
            lines += ["event: message", f"id: {index}"]
        if index % 7 == 3:
            # Pretty-printed JSON over several data lines: the decoder joins them with "\n".
            lines += [f"data: {line}" for line in json.dumps(obj, ensure_ascii=False, indent=1).split("\n")]
        elif index % 3 == 0:
            lines.append(f"data:{compact(obj)}")
        else:
            lines.append(f"data: {compact(obj)}")
        lines.append("")
    body = "\ufeff" + "".join(line + newline for line in lines)
    if not terminated:
        body = body[: -2 * len(newline)]  # the last event's line end and blank line never came
    return body.encode()
