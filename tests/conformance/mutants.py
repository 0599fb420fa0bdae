"""Servers for testing the conformance suite itself.

- `documented_app`: openai-chatkit hosted exactly as its guide shows (chatkit-python
  `docs/guides/serve-chatkit.md`, "Expose the ChatKit endpoint"): one route that hands the body to
  `server.process()` and returns the result, with no error handling of its own.
- Mutants: the test kit's local server (openai-chatkit with the scripted agent) behind an ASGI middleware
  that breaks exactly one rule of `docs/protocol.md`. Each names the case ids (and outcomes) that must
  catch it, and no other case may.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from chatkit_client.conformance import Outcome
from chatkit_client.testing import LocalChatKitServer, RequestContext, create_local_app

Event = dict[str, Any]
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

KNOWN_TYPES = {
    "threads.create", "threads.add_user_message", "threads.add_client_tool_output", "threads.add_structured_input",
    "threads.retry_after_item", "threads.custom_action", "threads.get_by_id", "threads.list", "items.list",
    "items.feedback", "attachments.create", "attachments.delete", "threads.update", "threads.delete",
    "input.transcribe", "threads.sync_custom_action",
}  # fmt: skip


def documented_app(server: LocalChatKitServer | None = None) -> Starlette:
    """openai-chatkit's documented hosting (FastAPI there; the same Starlette machinery here)."""
    from chatkit.server import StreamingResult

    chatkit = server if server is not None else LocalChatKitServer()

    async def endpoint(request: Request) -> Response:
        # The guide builds the app's own context object here; the test kit's store takes a RequestContext.
        context = RequestContext(headers=dict(request.headers), origin=str(request.base_url).rstrip("/"))
        result = await chatkit.process(await request.body(), context)
        if isinstance(result, StreamingResult):
            return StreamingResponse(result, media_type="text/event-stream")
        return Response(content=result.json, media_type="application/json")

    # The upload and preview routes the test kit's attachment store points at; the guide leaves those to the app.
    others = [route for route in create_local_app(server=chatkit).routes if getattr(route, "path", "") != "/chatkit"]
    return Starlette(routes=[Route("/chatkit", endpoint, methods=["POST"]), *others])


@dataclass(frozen=True)
class Answer:
    """A response the middleware sends instead of asking the server."""

    status: int
    body: bytes
    content_type: str = "application/json"


def sse(event: Event) -> bytes:
    return b"data: " + json.dumps(event, separators=(",", ":")).encode() + b"\n\n"


@dataclass(frozen=True)
class Mutant:
    name: str
    breaks: str
    caught_by: dict[str, Outcome]
    on_request: Callable[[dict[str, Any] | None], Answer | dict[str, Any] | None] | None = None
    on_event: Callable[[Event], list[Event]] | None = None
    on_json: Callable[[dict[str, Any], Any], Any] | None = None
    frame: Callable[[Event], bytes] = sse
    stream_content_type: str | None = None
    drop_at_end: bool = False
    on_status: Callable[[dict[str, Any] | None, int], int] | None = None
    """Changes the status of a JSON answer (given the request, or None when it was not JSON)."""
    elsewhere: Answer | None = None
    """The answer of every route but `POST /chatkit` (uploads, previews)."""
    messages: tuple[str, ...] = ()
    """The `--message` texts the run needs so that the broken rule is exercised."""

    def wrap(self, app: ASGIApp) -> ASGIApp:
        return _MutantApp(app, self)


class _MutantApp:
    def __init__(self, app: ASGIApp, mutant: Mutant) -> None:
        self.app = app
        self.mutant = mutant

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"].removeprefix(scope.get("root_path", ""))
        if scope["type"] != "http" or path != "/chatkit" or scope["method"] != "POST":
            if self.mutant.elsewhere is not None and scope["type"] == "http":
                await _send_answer(send, self.mutant.elsewhere)
                return
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        try:
            parsed = json.loads(body)
            original: dict[str, Any] | None = parsed if isinstance(parsed, dict) else None
        except ValueError:
            original = None
        mutant = self.mutant
        if mutant.on_request is not None:
            changed = mutant.on_request(original)
            if isinstance(changed, Answer):
                await _send_answer(send, changed)
                return
            if changed is not None:
                body = json.dumps(changed).encode()

        sent_body = False

        async def replay() -> Message:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        held: dict[str, Any] = {}
        buffered: list[bytes] = []

        async def mutate(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                content_type = dict(headers).get(b"content-type", b"").decode()
                held["stream"] = content_type.startswith("text/event-stream")
                if held["stream"]:
                    if mutant.stream_content_type is not None:
                        headers = [(k, v) for k, v in headers if k != b"content-type"]
                        headers.append((b"content-type", mutant.stream_content_type.encode()))
                    await send({**message, "headers": headers})
                else:
                    held["start"] = message
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            chunk = message.get("body", b"")
            more = bool(message.get("more_body"))
            if held.get("stream"):
                out = b""
                for block in chunk.split(b"\n\n"):
                    if not block.startswith(b"data: "):
                        continue
                    event = json.loads(block[6:])
                    events = mutant.on_event(event) if mutant.on_event else [event]
                    out += b"".join(mutant.frame(e) for e in events)
                if not more and mutant.drop_at_end:
                    await send({"type": "http.response.body", "body": out, "more_body": True})
                    raise RuntimeError("mutant: drop the connection instead of ending the stream")
                await send({"type": "http.response.body", "body": out, "more_body": more})
                return
            buffered.append(chunk)
            if more:
                return
            content = b"".join(buffered)
            start = held["start"]
            if mutant.on_json is not None and original is not None and 200 <= start["status"] < 300:
                content = json.dumps(mutant.on_json(original, json.loads(content))).encode()
            headers = [(k, v) for k, v in start.get("headers", []) if k != b"content-length"]
            headers.append((b"content-length", str(len(content)).encode()))
            status = mutant.on_status(original, start["status"]) if mutant.on_status else start["status"]
            await send({**start, "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": content, "more_body": False})

        await self.app(scope, replay, mutate)


async def _send_answer(send: Send, answer: Answer) -> None:
    headers = [(b"content-type", answer.content_type.encode()), (b"content-length", str(len(answer.body)).encode())]
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body, "more_body": False})


def _type(request: dict[str, Any] | None) -> str | None:
    return request.get("type") if request else None


def _drop(predicate: Callable[[Event], bool]) -> Callable[[Event], list[Event]]:
    return lambda event: [] if predicate(event) else [event]


def _item_type(event: Event) -> str | None:
    item = event.get("item")
    return item.get("type") if isinstance(item, dict) else None


def _is_text_delta(event: Event) -> bool:
    update = event.get("update")
    return isinstance(update, dict) and update.get("type") == "assistant_message.content_part.text_delta"


def _shift_delta(event: Event) -> list[Event]:
    if _is_text_delta(event):
        return [{**event, "update": {**event["update"], "content_index": event["update"]["content_index"] + 1}}]
    return [event]


def _unknown_delta(event: Event) -> list[Event]:
    return [{**event, "item_id": "msg_never_added"}] if _is_text_delta(event) else [event]


def _malformed_update(event: Event) -> list[Event]:
    # Right after an item is done, an update for it that carries no `update` at all.
    if event.get("type") == "thread.item.done" and _item_type(event) == "assistant_message":
        return [event, {"type": "thread.item.updated", "item_id": event["item"]["id"]}]
    return [event]


def _created_late() -> Callable[[Event], list[Event]]:
    held: list[Event] = []

    def move(event: Event) -> list[Event]:
        if event.get("type") == "thread.created":
            held.append(event)
            return []
        if held and str(event.get("type")).startswith("thread.item."):
            return [event, held.pop()]
        return [event]

    return move


def _title_not_saved(request: dict[str, Any] | None) -> dict[str, Any] | None:
    if _type(request) == "threads.update" and request is not None and "thread_id" in request.get("params", {}):
        return {"type": "threads.get_by_id", "params": {"thread_id": request["params"]["thread_id"]}}
    return None


def _answer_with_title(request: dict[str, Any], body: Any) -> Any:
    if request.get("type") == "threads.update" and "title" in request.get("params", {}):
        return {**body, "title": request["params"]["title"]}
    return body


def _reverse_items(request: dict[str, Any], body: Any) -> Any:
    if request.get("type") == "items.list":
        return {**body, "data": body["data"][::-1]}
    return body


def _ignore_after(request: dict[str, Any] | None) -> dict[str, Any] | None:
    if _type(request) == "threads.list" and request is not None:
        params = {key: value for key, value in request.get("params", {}).items() if key != "after"}
        return {**request, "params": params}
    return None


def _stream_answer(*events: Event) -> Answer:
    return Answer(200, b"".join(sse(event) for event in events), "text/event-stream")


_QUIET_STREAM = _stream_answer({"type": "stream_options", "stream_options": {"allow_cancel": False}})
_ERROR_STREAM = _stream_answer({"type": "error", "code": "stream.error", "allow_retry": False})
TOOL, ASK, WIDGET = "tool:get_weather {}", "ask", "widget"


def _reanswer(request_type: str, change: Callable[[dict[str, Any], Any], Any]) -> Callable[[dict[str, Any], Any], Any]:
    return lambda request, body: change(request, body) if request.get("type") == request_type else body


def _set_param(request_type: str, **params: Any) -> Callable[[dict[str, Any] | None], dict[str, Any] | None]:
    def change(request: dict[str, Any] | None) -> dict[str, Any] | None:
        if request is None or request.get("type") != request_type:
            return None
        return {**request, "params": {**request.get("params", {}), **params}}

    return change


STREAMING_TYPES = {
    t
    for t in KNOWN_TYPES
    if t.startswith("threads.")
    and t.split(".")[1]
    in {
        "create",
        "add_user_message",
        "add_client_tool_output",
        "add_structured_input",
        "retry_after_item",
        "custom_action",
    }
}


def _known_non_streaming(request: dict[str, Any] | None) -> bool:
    return request is not None and request.get("type") in KNOWN_TYPES - STREAMING_TYPES


_SERVER_ERROR = Answer(500, b"Internal Server Error", "text/plain; charset=utf-8")

FAIL, WARN = Outcome.FAIL, Outcome.WARN

MUTANTS = [
    Mutant(
        "no-thread-created",
        "a new thread's stream has no `thread.created` event",
        {"stream.thread-created": FAIL},
        on_event=_drop(lambda e: e.get("type") == "thread.created"),
    ),
    Mutant(
        "thread-created-late",
        "`thread.created` comes after the user's message",
        {"stream.thread-created": FAIL},
        on_event=_created_late(),
    ),
    Mutant(
        "item-never-done",
        "assistant messages are added but never done",
        {"stream.item-lifecycle": FAIL},
        on_event=_drop(lambda e: e.get("type") == "thread.item.done" and _item_type(e) == "assistant_message"),
    ),
    Mutant(
        "user-message-not-echoed",
        "the user's message never comes back as an item",
        {"stream.user-message": FAIL},
        on_event=_drop(lambda e: _item_type(e) == "user_message"),
    ),
    Mutant(
        "delta-for-unknown-item",
        "text deltas name an item that was never added",
        {"stream.updates-known-item": FAIL},
        on_event=_unknown_delta,
    ),
    Mutant(
        "delta-past-last-part",
        "text deltas name content part 1 of a message that announced only part 0",
        {"stream.content-index": FAIL},
        on_event=_shift_delta,
    ),
    Mutant(
        "update-without-update",
        "a `thread.item.updated` event without its `update` field",
        {"stream.events-valid": FAIL},
        on_event=_malformed_update,
    ),
    Mutant(
        "broken-sse-framing",
        "events are separated by one newline instead of a blank line",
        {"stream.framing": FAIL},
        frame=lambda event: sse(event)[:-1],
    ),
    Mutant(
        "stream-as-json",
        "streams are labelled application/json",
        {"stream.content-type": FAIL},
        stream_content_type="application/json",
    ),
    Mutant(
        "stream-dropped",
        "every stream ends by dropping the connection instead of closing the body",
        {"stream.ends": FAIL},
        drop_at_end=True,
    ),
    Mutant(
        "items-out-of-order",
        "items.list answers its page reversed",
        {"items.list-order": FAIL},
        on_json=_reverse_items,
    ),
    Mutant(
        "threads-list-ignores-after",
        "threads.list ignores the `after` cursor",
        {"threads.list-pagination": FAIL},
        on_request=_ignore_after,
    ),
    Mutant(
        "title-not-saved",
        "threads.update answers the new title but does not save it",
        {"threads.update": FAIL},
        on_request=_title_not_saved,
        on_json=_answer_with_title,
    ),
    Mutant(
        "delete-keeps-thread",
        "threads.delete answers {} but deletes nothing",
        {"threads.delete": FAIL},
        on_request=lambda r: Answer(200, b"{}") if _type(r) == "threads.delete" else None,
    ),
    Mutant(
        "feedback-500",
        "items.feedback answers 500",
        {"items.feedback": FAIL},
        on_request=lambda r: _SERVER_ERROR if _type(r) == "items.feedback" else None,
    ),
    Mutant(
        "unknown-type-500",
        "an unknown request type answers 500",
        {"errors.unknown-type": FAIL},
        on_request=lambda r: _SERVER_ERROR if r is not None and _type(r) not in KNOWN_TYPES else None,
    ),
    Mutant(
        "garbage-accepted",
        "a body that is not JSON answers 200 {}",
        {"errors.malformed-json": WARN},
        on_request=lambda r: Answer(200, b"{}") if r is None else None,
    ),
    Mutant(
        "get-answers-another-thread",
        "threads.get_by_id answers a thread with another id",
        {"threads.get": FAIL},
        on_json=_reanswer("threads.get_by_id", lambda request, body: {**body, "id": body["id"] + "_other"}),
    ),
    Mutant(
        "threads-list-loses-one",
        "threads.list leaves the first thread out of pages of 50 or more",
        {"threads.list": FAIL},
        on_json=_reanswer(
            "threads.list",
            lambda request, body: (
                {**body, "data": body["data"][1:]} if request["params"].get("limit", 20) >= 50 else body
            ),
        ),
    ),
    Mutant(
        "threads-list-ignores-order",
        "threads.list always answers oldest first",
        {"threads.list-order": FAIL},
        on_request=_set_param("threads.list", order="asc"),
    ),
    Mutant(
        "items-list-hides-user-messages",
        "items.list leaves the user's messages out",
        {"items.list": FAIL},
        on_json=_reanswer(
            "items.list",
            lambda request, body: {**body, "data": [i for i in body["data"] if i.get("type") != "user_message"]},
        ),
    ),
    Mutant(
        "items-list-ignores-after",
        "items.list ignores the `after` cursor",
        {"items.list-pagination": FAIL},
        on_request=lambda r: (
            {**r, "params": {k: v for k, v in r["params"].items() if k != "after"}}
            if _type(r) == "items.list"
            else None
        ),
    ),
    Mutant(
        "uploads-rejected",
        "the upload URL of `upload_descriptor` answers 500",
        {"attachments.upload": FAIL},
        elsewhere=_SERVER_ERROR,
    ),
    Mutant(
        "retry-keeps-old-answer",
        "threads.retry_after_item streams nothing and keeps the old answer",
        {"threads.retry": FAIL},
        on_request=lambda r: _QUIET_STREAM if _type(r) == "threads.retry_after_item" else None,
    ),
    Mutant(
        "invalid-params-500",
        "a known request with invalid params answers 500",
        {"errors.invalid-params": FAIL},
        on_status=lambda r, status: 500 if status == 400 and _known_non_streaming(r) else status,
    ),
    Mutant(
        "missing-thread-500",
        "a missing thread answers 500 to non-streaming requests",
        {"errors.missing-thread": FAIL},
        on_status=lambda r, status: 500 if status == 404 and _known_non_streaming(r) else status,
    ),
    Mutant(
        "missing-thread-stream-200",
        "a message to a missing thread answers 200 with the error as JSON",
        {"errors.missing-thread-stream": WARN},
        on_status=lambda r, status: 200 if status == 404 and _type(r) in STREAMING_TYPES else status,
    ),
    Mutant(
        "attachment-delete-500",
        "attachments.delete answers 500",
        {"attachments.delete": FAIL},
        on_request=lambda r: _SERVER_ERROR if _type(r) == "attachments.delete" else None,
    ),
    Mutant(
        "tool-output-ignored",
        "threads.add_client_tool_output answers a stream but never stores the output",
        {"tool.output": FAIL},
        on_request=lambda r: _QUIET_STREAM if _type(r) == "threads.add_client_tool_output" else None,
        messages=(TOOL,),
    ),
    Mutant(
        "structured-input-not-replaced",
        "answering a structured input streams no `thread.item.replaced`",
        {"structured-input.answer": FAIL},
        on_event=_drop(lambda e: e.get("type") == "thread.item.replaced"),
        messages=(ASK,),
    ),
    Mutant(
        "widget-action-error",
        "every widget action answers an error event",
        {"widget.action": FAIL},
        on_request=lambda r: _ERROR_STREAM if _type(r) == "threads.custom_action" else None,
        messages=(WIDGET,),
    ),
]


def mutant_app(mutant: Mutant, *, required_headers: dict[str, str] | None = None) -> ASGIApp:
    """The test kit's local server behind `mutant`."""
    return mutant.wrap(create_local_app(required_headers=required_headers))


def all_mutants_app() -> ASGIApp:
    """Every mutant in one app, each under `/<mutant name>/chatkit`: one server for the whole parametrised test."""
    apps = {mutant.name: mutant_app(mutant) for mutant in MUTANTS}

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            name = scope["path"].split("/")[1]
            if name in apps:
                await apps[name]({**scope, "root_path": scope.get("root_path", "") + "/" + name}, receive, send)
                return
            await _send_answer(send, Answer(404, b"no such mutant", "text/plain"))

    return dispatch
