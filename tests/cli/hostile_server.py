"""A self-hosted ChatKit server whose every text carries terminal escape sequences (for the CLI's tests).

Registered as scenarios of the raw-socket `MisbehavingServer`:

- `cli_hostile`: a well-formed protocol server; titles, ids' neighbours, answers, notices, progress, widgets,
  workflow tasks, client tool names and the stream's error message all carry `HOSTILE`.
- `cli_hostile_http_error`: every request answers 400 with `HOSTILE` in the error message.

    with MisbehavingServer() as server:
        chatkit --server-url {server.url("cli_hostile")} send hi
"""

from __future__ import annotations

import json
from typing import Any

from tests.reliability.misbehaving_server import Conn, MisbehavingServer, Request, scenario, sse_body

__all__ = ["FORBIDDEN", "HOSTILE", "THREAD_ID"]

HOSTILE = (
    "A\x1b]52;c;cHduZWQ=\x07"  # OSC 52: write the clipboard
    "B\x1b[2J"  # CSI: clear the screen
    "C\x1b]0;pwned title\x07"  # OSC 0: retitle the window
    "D\x9b31m"  # C1 CSI (8-bit)
    "E\x1bP1$qm\x1b\\"  # DCS ... ST
    "F\x9d0;c1 title\x9c"  # C1 OSC ... C1 ST
    "G\x08\x7f\r\x00Z"  # backspace, DEL, carriage return, NUL
)
"""Server text with the escape sequences a terminal would obey; its printable letters A-G and Z must survive."""

FORBIDDEN = ("\x1b]", "\x1b[2J", "\x1bP", "\x9b", "\x9d", "\x9c", "\x07", "\x08", "\x7f", "\x00", "\r")
"""What must never reach a terminal raw (rich's own colour and cursor sequences use none of them)."""

THREAD_ID = "thr_hostile"
_WHEN = "2026-01-01T00:00:00"


def _thread(title: str = "Title " + HOSTILE) -> dict[str, Any]:
    return {"id": THREAD_ID, "title": title, "created_at": _WHEN, "status": {"type": "active"}, "metadata": {}}


def _items() -> list[dict[str, Any]]:
    base = {"thread_id": THREAD_ID, "created_at": _WHEN}
    part = {"type": "output_text", "text": "Answer " + HOSTILE, "annotations": []}
    return [
        {
            **base,
            "id": "msg_u",
            "type": "user_message",
            "content": [{"type": "input_text", "text": "Asked " + HOSTILE}],
            "attachments": [],
            "inference_options": {},
        },
        {**base, "id": "msg_a", "type": "assistant_message", "content": [part]},
        {
            **base,
            "id": "wdg_1",
            "type": "widget",
            "widget": {"type": "Card", "children": [{"type": "Text", "value": "Widget " + HOSTILE}]},
        },
    ]


def _stream() -> list[dict[str, Any]]:
    items = _items()
    user, assistant, widget = items
    added = {**assistant, "content": []}
    # The answer split inside its escape sequences: ESC in one delta, the rest of the sequence in the next.
    answer = "Answer " + HOSTILE + "\nsecond line\twith a tab"
    deltas = [answer[i : i + 3] for i in range(0, len(answer), 3)]
    task = {"type": "custom", "title": "Task " + HOSTILE, "status_indicator": "loading"}
    workflow = {
        "id": "wf_item",
        "thread_id": THREAD_ID,
        "created_at": _WHEN,
        "type": "workflow",
        "workflow": {"type": "custom", "tasks": [task], "expanded": False},
    }
    tool_call = {
        "id": "tc_1",
        "thread_id": THREAD_ID,
        "created_at": _WHEN,
        "type": "client_tool_call",
        "status": "pending",
        "call_id": "call_1",
        "name": "tool\x1b]0;x\x07",
        "arguments": {"q": HOSTILE},
    }
    return [
        {"type": "thread.created", "thread": {**_thread(), "items": {"data": [], "has_more": False}}},
        {"type": "thread.item.done", "item": user},
        {"type": "progress_update", "text": "Progress " + HOSTILE},
        {"type": "notice", "level": "info", "title": "Notice " + HOSTILE, "message": "Body " + HOSTILE},
        {"type": "thread.item.added", "item": added},
        {
            "type": "thread.item.updated",
            "item_id": "msg_a",
            "update": {
                "type": "assistant_message.content_part.added",
                "content_index": 0,
                "content": {"type": "output_text", "text": "", "annotations": []},
            },
        },
        *(
            {
                "type": "thread.item.updated",
                "item_id": "msg_a",
                "update": {"type": "assistant_message.content_part.text_delta", "content_index": 0, "delta": piece},
            }
            for piece in deltas
        ),
        {"type": "thread.item.done", "item": {**assistant, "content": [{**assistant["content"][0], "text": answer}]}},
        {"type": "thread.updated", "thread": _thread("Renamed " + HOSTILE)},
        {"type": "thread.item.done", "item": widget},
        {"type": "thread.item.done", "item": workflow},
        {"type": "client_effect", "name": "effect", "data": {"v": HOSTILE}},
        {"type": "thread.item.done", "item": tool_call},
        {"type": "error", "code": "custom", "message": "Failure " + HOSTILE, "allow_retry": False},
    ]


@scenario("cli_hostile")
async def _cli_hostile(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    kind = (req.json or {}).get("type", "")
    answers: dict[str, Any] = {
        "threads.list": {"data": [_thread()], "has_more": False},
        "threads.get_by_id": {**_thread(), "items": {"data": _items(), "has_more": False}},
        "items.list": {"data": _items(), "has_more": False},
        "threads.update": _thread("Renamed " + HOSTILE),
    }
    if kind in answers:
        await conn.respond("200 OK", json.dumps(answers[kind]).encode())
    else:
        await conn.sse(sse_body(_stream()))


@scenario("cli_hostile_http_error")
async def _cli_hostile_http_error(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    body = {"error": {"message": "Refused " + HOSTILE, "type": "invalid_request_error", "code": "bad\x1b[2J"}}
    await conn.respond("400 Bad Request", json.dumps(body).encode())
