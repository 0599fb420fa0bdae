"""The protocol endpoint (`POST /v1/chatkit/conversation`, client secret): JSON requests and streamed turns.

Imports `_emulator_model`, `_emulator_validate`, `_emulator_state`, `_emulator_request`, `_emulator_faults`
and starlette only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse, Response

from ._emulator_faults import EventStream, Faults, sse_frame
from ._emulator_model import (
    PAGE_SIZE,
    ApiFailure,
    Feedback,
    FileInfo,
    ItemRecord,
    SessionRecord,
    ThreadRecord,
    Turn,
    iso_timestamp,
    new_id,
    not_found,
    paginate,
    protocol_thread,
)
from ._emulator_request import Ctx, json_body, session_for_secret
from ._emulator_state import EmulatorState
from ._emulator_validate import CONVERSATION_PARAMS, STREAMING_TYPES

_TOOL_PATTERN = re.compile(r"^tool:(?P<name>[^\s{]+)\s*(?P<args>.*)$", re.DOTALL)
_DELTA_PATTERN = re.compile(r"\S+\s*|\s+")


@dataclass
class _ToolCall:
    name: str
    arguments: dict[str, Any]


def _drop_none(value: Any) -> Any:
    """Hosted output omits nulls (chatkit-python's `exclude_none`)."""
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def _title_from(text: str) -> str:
    words = text.split()
    if not words:
        return "New conversation"
    title = " ".join(words[:6])
    return title if len(title) <= 40 else title[:39].rstrip() + "…"


class Conversation:
    """Answers every request type of the conversation endpoint and stores the turns it streams."""

    def __init__(self, state: EmulatorState, faults: Faults, responder: Callable[[Turn], str] | None) -> None:
        self._state = state
        self._faults = faults
        self._responder = responder

    def handle(self, ctx: Ctx) -> Response:
        session = session_for_secret(self._state, ctx)
        body = json_body(ctx)
        kind = body.get("type")
        if not isinstance(kind, str):
            raise ApiFailure(
                400, "Missing required parameter: 'type'.", param="type", code="missing_required_parameter"
            )
        validator = CONVERSATION_PARAMS.get(kind)
        if validator is None:
            raise ApiFailure(400, f"Unsupported request type '{kind}'.", param="type", code="invalid_value")
        if body.get("metadata") is not None and not isinstance(body["metadata"], dict):
            raise ApiFailure(
                400, "Invalid type for 'metadata': expected an object.", param="metadata", code="invalid_type"
            )
        params = body.get("params", {})
        validator(params, "params")
        with self._state.lock:
            if kind in STREAMING_TYPES:
                events = self._stream_request(session, kind, params, ctx.origin)
                faults = self._faults.take_stream()
                return EventStream([sse_frame(e) for e in events], faults)
            return JSONResponse(self._json_request(session, kind, params))

    def _thread_for(self, session: SessionRecord, thread_id: str) -> ThreadRecord:
        # Threads belong to the session's user; other users' threads look like they do not exist.
        thread = self._state.threads.get(thread_id)
        if thread is None or thread.user != session.user:
            raise not_found("Thread", thread_id)
        return thread

    def _json_request(self, session: SessionRecord, kind: str, params: dict[str, Any]) -> dict[str, Any]:
        if kind == "threads.list":
            threads = sorted((t for t in self._state.threads.values() if t.user == session.user), key=lambda t: t.seq)
            page, has_more = paginate(
                threads,
                lambda t: t.id,
                order=params.get("order") or "desc",
                after=params.get("after"),
                before=None,
                limit=params.get("limit") or PAGE_SIZE,
            )
            return _protocol_page([protocol_thread(t) for t in page], has_more)
        thread = self._thread_for(session, params["thread_id"])
        if kind == "threads.get_by_id":
            return protocol_thread(thread, thread.items[:PAGE_SIZE], has_more=len(thread.items) > PAGE_SIZE)
        if kind == "items.list":
            items, has_more = paginate(
                thread.items,
                lambda i: i.id,
                order=params.get("order") or "desc",
                after=params.get("after"),
                before=None,
                limit=params.get("limit") or PAGE_SIZE,
            )
            return _protocol_page([json.loads(json.dumps(i.data)) for i in items], has_more)
        if kind == "items.feedback":
            for item_id in params["item_ids"]:
                if thread.find(item_id) is None:
                    raise not_found("Thread item", item_id)
            self._state.feedback.append(Feedback(thread.id, tuple(params["item_ids"]), params["kind"]))
            return {}
        if kind == "threads.update":
            thread.title = params["title"]
            return protocol_thread(thread)
        if kind == "threads.delete":
            del self._state.threads[thread.id]
            return {}
        raise ApiFailure(400, f"Unsupported request type '{kind}'.", param="type")  # pragma: no cover

    def _stream_request(
        self, session: SessionRecord, kind: str, params: dict[str, Any], origin: str
    ) -> list[dict[str, Any]]:
        if kind == "threads.create":
            attachments = self._attachments(session, params["input"])
            now = self._state.now()
            thread = ThreadRecord(id=new_id("cthr"), user=session.user, created_at=now, seq=next(self._state.seq))
            self._state.threads[thread.id] = thread
            return self._user_turn(session, thread, params["input"], attachments, created=True)
        thread = self._thread_for(session, params["thread_id"])
        if kind == "threads.add_user_message":
            attachments = self._attachments(session, params["input"])
            return self._user_turn(session, thread, params["input"], attachments, created=False)
        if kind == "threads.add_client_tool_output":
            pending = [
                i for i in thread.items if i.data["type"] == "client_tool_call" and i.data["status"] == "pending"
            ]
            if not pending:
                raise ApiFailure(
                    400, f"Thread '{thread.id}' has no pending client tool call.", param="params.thread_id"
                )
            call = pending[-1].data
            call["status"] = "completed"
            call["output"] = params["result"]
            return self._respond(session, thread, f"Tool {call['name']} returned: {json.dumps(params['result'])}")
        if kind == "threads.retry_after_item":
            index = thread.find(params["item_id"])
            if index is None:
                raise not_found("Thread item", params["item_id"])
            user_item = thread.items[index]
            if user_item.data["type"] != "user_message":
                raise ApiFailure(400, f"Item '{user_item.id}' is not a user message.", param="params.item_id")
            del thread.items[index + 1 :]
            text = _text_of(user_item.data)
            files = tuple(
                self._state.files[a["id"]]
                for a in user_item.data.get("attachments", [])
                if a["id"] in self._state.files
            )
            return self._respond(session, thread, self._reply(Turn(thread.id, text, files, session.user)))
        if kind == "threads.custom_action":
            item_id = params.get("item_id")
            if item_id is not None and thread.find(item_id) is None:
                raise not_found("Thread item", item_id)
            return self._respond(session, thread, f"Action {params['action']['type']} received")
        raise ApiFailure(400, f"Unsupported request type '{kind}'.", param="type")  # pragma: no cover

    def _attachments(self, session: SessionRecord, user_input: dict[str, Any]) -> tuple[FileInfo, ...]:
        found = []
        for index, file_id in enumerate(user_input["attachments"]):
            info = self._state.files.get(file_id)
            if info is None or info.user != session.user:
                raise ApiFailure(400, f"Attachment '{file_id}' not found.", param=f"params.input.attachments[{index}]")
            found.append(info)
        return tuple(found)

    def _reply(self, turn: Turn) -> str | _ToolCall:
        match = _TOOL_PATTERN.match(turn.text.strip())
        if match:
            raw = match.group("args").strip()
            try:
                arguments = json.loads(raw) if raw else {}
            except ValueError:
                arguments = None
            if isinstance(arguments, dict):
                return _ToolCall(match.group("name"), arguments)
        if self._responder is not None:
            return self._responder(turn)
        text = f"You said: {turn.text}"
        if turn.attachments:
            text += " [attachments: " + ", ".join(a.name or a.id for a in turn.attachments) + "]"
        return text

    def _user_turn(
        self,
        session: SessionRecord,
        thread: ThreadRecord,
        user_input: dict[str, Any],
        attachments: tuple[FileInfo, ...],
        *,
        created: bool,
    ) -> list[dict[str, Any]]:
        now = self._state.now()
        events: list[dict[str, Any]] = []
        if created:
            events.append({"type": "thread.created", "thread": protocol_thread(thread)})
        item = _drop_none(
            {
                "id": new_id("cti"),
                "thread_id": thread.id,
                "created_at": iso_timestamp(now),
                "type": "user_message",
                "content": user_input["content"],
                "attachments": [_attachment(a) for a in attachments],
                "quoted_text": user_input.get("quoted_text") or "",
                "inference_options": user_input.get("inference_options") or {},
            }
        )
        thread.items.append(ItemRecord(now, item))
        events.append({"type": "thread.item.done", "item": item})
        reply = self._reply(Turn(thread.id, _text_of(item), attachments, session.user))
        title = None
        if created and session.configuration["automatic_thread_titling"]["enabled"]:
            title = _title_from(_text_of(item))
        return events + self._respond(session, thread, reply, title=title)

    def _respond(
        self,
        session: SessionRecord,
        thread: ThreadRecord,
        reply: str | _ToolCall,
        *,
        title: str | None = None,
    ) -> list[dict[str, Any]]:
        """The assistant's half of a turn, in the order observed from the hosted API; stores the items."""
        now = self._state.now()
        stamp = iso_timestamp(now)
        events: list[dict[str, Any]] = [{"type": "progress_update", "text": "Thinking…"}]
        workflow = {
            "id": new_id("cti"),
            "thread_id": thread.id,
            "created_at": stamp,
            "type": "workflow",
            "workflow": {"type": "reasoning", "tasks": [], "expanded": False},
            "response_items": [],
        }
        done_workflow = json.loads(json.dumps(workflow))
        done_workflow["workflow"]["summary"] = {"duration": 0}
        events.append({"type": "thread.item.added", "item": workflow})
        events.append({"type": "thread.item.done", "item": done_workflow})
        thread.items.append(ItemRecord(now, done_workflow))
        title_events: list[dict[str, Any]] = []
        if title is not None:
            thread.title = title
            title_events.append({"type": "thread.updated", "thread": protocol_thread(thread)})
        if isinstance(reply, _ToolCall):
            final: dict[str, Any] = {
                "id": new_id("cti"),
                "thread_id": thread.id,
                "created_at": stamp,
                "type": "client_tool_call",
                "status": "pending",
                "call_id": new_id("call"),
                "name": reply.name,
                "arguments": reply.arguments,
            }
            events += [*title_events, {"type": "thread.item.done", "item": final}]
        else:
            item_id = new_id("cti")
            base = {"id": item_id, "thread_id": thread.id, "created_at": stamp, "type": "assistant_message"}
            events.append({"type": "thread.item.added", "item": base | {"content": []}})
            empty_part = {"type": "output_text", "text": "", "annotations": []}
            events.append(
                _update(
                    item_id,
                    {
                        "type": "assistant_message.content_part.added",
                        "content_index": 0,
                        "content": empty_part,
                    },
                )
            )
            for delta in _DELTA_PATTERN.findall(reply):
                events.append(
                    _update(
                        item_id,
                        {
                            "type": "assistant_message.content_part.text_delta",
                            "content_index": 0,
                            "delta": delta,
                        },
                    )
                )
            part = {"type": "output_text", "text": reply, "annotations": []}
            events.append(
                _update(
                    item_id,
                    {"type": "assistant_message.content_part.done", "content_index": 0, "content": part},
                )
            )
            final = base | {"content": [part]}
            events += [*title_events, {"type": "thread.item.done", "item": final}]
        thread.items.append(ItemRecord(now, json.loads(json.dumps(final))))
        return events


def _protocol_page(data: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    page: dict[str, Any] = {"data": data, "has_more": has_more}
    if has_more and data:
        page["after"] = data[-1]["id"]
    return page


def _attachment(info: FileInfo) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": info.id,
        "name": info.name,
        "mime_type": info.mime_type,
        "upload_url": info.upload_url,
        "type": info.type,
    }
    if info.type == "image":
        out["preview_url"] = info.upload_url
    return out


def _text_of(item: Mapping[str, Any]) -> str:
    return "".join(str(p.get("text", "")) for p in item.get("content", []) if p.get("type") == "input_text")


def _update(item_id: str, update: dict[str, Any]) -> dict[str, Any]:
    return {"type": "thread.item.updated", "item_id": item_id, "update": update}
