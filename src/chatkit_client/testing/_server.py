"""A local, offline ChatKit server built on OpenAI's `openai-chatkit` package.

`LocalChatKitServer` answers with the scripted agent of `_agent.py` (its module docstring is the
script language: `tool:NAME {json}`, `widget`, `workflow`, `error`, `crash`, `long N`, ...).
`create_local_app` serves it over HTTP; `serve_local_server` runs that app on a free loopback
port for the length of a `with` block.

Routes (all under `/chatkit`, so another app can be mounted beside it):

- `POST /chatkit`: the ChatKit protocol, `{type, params, metadata?}`. Streaming operations
  answer `text/event-stream`, the others `application/json`. A body that is not a valid
  request answers 400, an unknown thread/item/attachment 404, both as
  `{"error": {"message", "type", "code"}}`.
- `POST /chatkit/upload/{attachment_id}`: the second phase of a two-phase upload
  (`attachments.create` returns this URL in `upload_descriptor`). Multipart field `file`, or
  the raw bytes as the body with any other content type. Answers the Attachment.
- `POST /chatkit/files`: direct upload, multipart field `file`. Answers the new Attachment.
- `GET /chatkit/preview/{attachment_id}`: the uploaded bytes (the `preview_url` of images).

With `required_headers`, every route answers 401 unless each header has exactly that value.
"""

from __future__ import annotations

import hmac
import json
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from ._agent import ScriptedAgent, ScriptedCrash
from ._memory_store import InMemoryStore, NotFoundError, RequestContext
from ._serve import serve_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from chatkit.actions import Action
    from chatkit.server import ChatKitServer, NonStreamingResult, StreamingResult
    from chatkit.types import (
        Attachment,
        AttachmentCreateParams,
        AudioInput,
        ChatKitReq,
        FeedbackKind,
        SyncCustomActionResponse,
        ThreadItem,
        ThreadMetadata,
        ThreadStreamEvent,
        TranscriptionResult,
        UserMessageItem,
        WidgetItem,
        is_streaming_req,
    )

__all__ = [
    "FeedbackRecord",
    "LocalChatKitServer",
    "RequestContext",
    "RunningLocalServer",
    "create_local_app",
    "serve_local_server",
]

_CHUNK = 64 * 1024
_TEXT_DELTA = b'"assistant_message.content_part.text_delta"'
_REQUEST = TypeAdapter[ChatKitReq](ChatKitReq)


@dataclass(frozen=True)
class FeedbackRecord:
    """One `items.feedback` request, as recorded in `LocalChatKitServer.feedback`."""

    thread_id: str
    item_ids: tuple[str, ...]
    kind: FeedbackKind


class LocalChatKitServer(ChatKitServer[RequestContext]):
    """A ChatKit server that answers with the offline scripted agent.

    Widget actions are handled by `action()`, feedback is kept in `feedback` for assertions, and
    `input.transcribe` returns a description of the audio it received: `Transcribed N bytes of
    MEDIA_TYPE` (deterministic, for tests). A stream the client closes early is cancelled by
    openai-chatkit; the thread id is then appended to `cancelled` (after the SDK's own cleanup:
    the partial assistant message and an `sdk_hidden_context` item are stored).

    >>> server = LocalChatKitServer()
    >>> app = create_local_app(server=server)
    >>> server.feedback
    []
    """

    store: InMemoryStore

    def __init__(self, store: InMemoryStore | None = None, *, slow_delay: float = 0.05) -> None:
        memory_store = store if store is not None else InMemoryStore()
        super().__init__(memory_store, memory_store)
        self.store = memory_store
        self.agent = ScriptedAgent(memory_store, slow_delay=slow_delay)
        self.feedback: list[FeedbackRecord] = []
        self.cancelled: list[str] = []
        # Called with `time.perf_counter()` when a stream's first text delta is handed to the response (once
        # per stream), so load tests can check the latencies they report against the server's own clock.
        self.on_first_delta: Callable[[float], None] | None = None

    async def handle_stream_cancelled(
        self, thread: ThreadMetadata, pending_items: list[ThreadItem], context: RequestContext
    ) -> None:
        await super().handle_stream_cancelled(thread, pending_items, context)
        self.cancelled.append(thread.id)

    async def process(
        self, request: str | bytes | bytearray, context: RequestContext
    ) -> StreamingResult | NonStreamingResult:
        """openai-chatkit's `process`, with the request's TypeAdapter built once instead of per request.

        openai-chatkit 1.6 builds a new `TypeAdapter(ChatKitReq)` on every request (tens of milliseconds
        of schema building); that made a 1,000-thread export from this server take minutes.
        """
        streaming = getattr(self, "_process_streaming", None)
        non_streaming = getattr(self, "_process_non_streaming", None)
        if streaming is None or non_streaming is None:  # pragma: no cover - a future openai-chatkit
            return await super().process(request, context)
        parsed = _REQUEST.validate_json(request)
        if is_streaming_req(parsed):
            return StreamingResult(streaming(parsed, context))
        return NonStreamingResult(await non_streaming(parsed, context))

    def respond(
        self, thread: ThreadMetadata, input_user_message: UserMessageItem | None, context: RequestContext
    ) -> AsyncIterator[ThreadStreamEvent]:
        return self.agent.respond(thread, input_user_message, context)

    def action(
        self,
        thread: ThreadMetadata,
        action: Action[str, Any],
        sender: WidgetItem | None,
        context: RequestContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        return self.agent.action(thread, action, sender, context)

    async def sync_action(
        self,
        thread: ThreadMetadata,
        action: Action[str, Any],
        sender: WidgetItem | None,
        context: RequestContext,
    ) -> SyncCustomActionResponse:
        updated = self.agent.sync_action(action, sender)
        if updated is not None:
            await self.store.save_item(thread.id, updated, context)
        return SyncCustomActionResponse(updated_item=updated)

    async def add_feedback(
        self, thread_id: str, item_ids: list[str], feedback: FeedbackKind, context: RequestContext
    ) -> None:
        await self.store.load_thread(thread_id, context)  # unknown threads answer 404
        self.feedback.append(FeedbackRecord(thread_id=thread_id, item_ids=tuple(item_ids), kind=feedback))

    async def transcribe(self, audio_input: AudioInput, context: RequestContext) -> TranscriptionResult:
        return TranscriptionResult(text=f"Transcribed {len(audio_input.data)} bytes of {audio_input.media_type}")


@dataclass(frozen=True)
class RunningLocalServer:
    """A local ChatKit server running in the background; see `serve_local_server`.

    >>> with serve_local_server() as running:  # doctest: +SKIP
    ...     running.url
    'http://127.0.0.1:53211/chatkit'
    """

    origin: str
    server: LocalChatKitServer

    @property
    def url(self) -> str:
        """The ChatKit protocol endpoint (`POST`)."""
        return self.origin + "/chatkit"

    @property
    def direct_upload_url(self) -> str:
        """The direct-upload endpoint (`POST`, multipart field `file`)."""
        return self.origin + "/chatkit/files"

    @property
    def store(self) -> InMemoryStore:
        """The server's in-memory store, to inspect or seed state from tests."""
        return self.server.store


class _HTTPError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


def _error_response(status: int, message: str, code: str | None = None) -> Response:
    error_type = {401: "authentication_error", 404: "invalid_request_error"}.get(status, "invalid_request_error")
    if status >= 500:
        error_type = "server_error"
    body = {"error": {"message": message, "type": error_type, "code": code}}
    return Response(json.dumps(body), status_code=status, media_type="application/json")


def _describe_validation_error(exc: ValidationError) -> str:
    # include_input=False: request bodies may carry user data that has no place in an error message.
    problems = []
    for error in exc.errors(include_url=False, include_input=False)[:5]:
        location = ".".join(str(part) for part in error["loc"]) or "body"
        problems.append(f"{location}: {error['msg']}")
    return "Invalid request: " + "; ".join(problems)


def _json(model: Any) -> Response:
    # The same serialization openai-chatkit uses for its own JSON answers.
    body = model.model_dump_json(by_alias=True, exclude_none=True, context={"exclude_metadata": True})
    return Response(body, media_type="application/json")


async def _prime(
    result: StreamingResult, on_first_delta: Callable[[float], None] | None = None
) -> AsyncIterator[bytes]:
    """Run a stream up to its first event, so that lookup errors can still become a 4xx status."""
    iterator = aiter(result.json_events)
    try:
        first = await iterator.__anext__()
    except StopAsyncIteration:
        first = None

    async def chained() -> AsyncIterator[bytes]:
        watch = on_first_delta
        try:
            if first is not None:
                yield first
            async for chunk in iterator:
                if watch is not None and _TEXT_DELTA in chunk:
                    watch(time.perf_counter())
                    watch = None
                yield chunk
        except ScriptedCrash:
            # Raising out of the ASGI app after the headers went out makes uvicorn drop the connection.
            raise RuntimeError("the `crash` script dropped the connection on purpose") from None

    return chained()


def create_local_app(
    *, server: LocalChatKitServer | None = None, required_headers: Mapping[str, str] | None = None
) -> Starlette:
    """The ASGI app serving `server` (a new `LocalChatKitServer` by default) under `/chatkit`.

    >>> app = create_local_app(required_headers={"Authorization": "Bearer test"})
    >>> with serve_app(app) as origin:  # doctest: +SKIP
    ...     httpx2.post(origin + "/chatkit", json={"type": "threads.list", "params": {}})
    """
    chatkit = server if server is not None else LocalChatKitServer()
    store = chatkit.store
    required = {name.lower(): value for name, value in (required_headers or {}).items()}

    def endpoint(
        handler: Callable[[Request, RequestContext], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            for name, value in required.items():
                given = request.headers.get(name)
                if given is None or not hmac.compare_digest(given.encode(), value.encode()):
                    # Name the header, never its value: it is usually a secret.
                    return _error_response(401, f"Missing or invalid header: {name}", "unauthorized")
            context = RequestContext(headers=dict(request.headers), origin=str(request.base_url).rstrip("/"))
            try:
                return await handler(request, context)
            except _HTTPError as exc:
                return _error_response(exc.status, exc.message, exc.code)
            except NotFoundError as exc:
                return _error_response(404, str(exc) or "Not found", "not_found")
            except ValidationError as exc:
                return _error_response(400, _describe_validation_error(exc), "invalid_request")
            except (ValueError, NotImplementedError) as exc:
                return _error_response(400, str(exc) or type(exc).__name__, "invalid_request")
            except HTTPException as exc:
                return _error_response(exc.status_code, exc.detail, None)

        return run

    async def check_references(body: bytes, context: RequestContext) -> None:
        """Look up the thread and attachments a streaming request names, to answer 404 up front.

        openai-chatkit would find out inside the stream, log the error and drop the connection.
        """
        parsed = _REQUEST.validate_json(body)
        if not is_streaming_req(parsed):
            return
        thread_id = getattr(parsed.params, "thread_id", None)
        if isinstance(thread_id, str):
            await store.load_thread(thread_id, context)
        user_input = getattr(parsed.params, "input", None)
        for attachment_id in getattr(user_input, "attachments", None) or []:
            await store.load_attachment(attachment_id, context)

    async def protocol(request: Request, context: RequestContext) -> Response:
        body = await request.body()
        await check_references(body, context)
        result = await chatkit.process(body, context)
        if isinstance(result, StreamingResult):
            stream = await _prime(result, chatkit.on_first_delta)
            return StreamingResponse(
                stream,
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        return Response(result.json, media_type="application/json")

    async def receive_file(request: Request, attachment_id: str) -> None:
        """Store the request's file (multipart `file` or raw body) as the bytes of `attachment_id`."""
        content_type = request.headers.get("content-type", "")
        with store.upload(attachment_id) as writer:
            if content_type.lower().startswith("multipart/form-data"):
                async with request.form(max_files=1) as form:
                    upload = form.get("file")
                    if not isinstance(upload, UploadFile):
                        raise _HTTPError(400, "Send the file as the multipart field `file`", "missing_file")
                    while chunk := await upload.read(_CHUNK):
                        writer.write(chunk)
            else:
                async for chunk in request.stream():
                    writer.write(chunk)

    async def finish_upload(attachment: Attachment, context: RequestContext) -> Response:
        # The descriptor is spent once the bytes arrived (openai-chatkit's documented convention).
        done = attachment.model_copy(update={"upload_descriptor": None})
        await store.save_attachment(done, context)
        return _json(done)

    async def two_phase_upload(request: Request, context: RequestContext) -> Response:
        attachment = await store.load_attachment(request.path_params["attachment_id"], context)
        await receive_file(request, attachment.id)
        return await finish_upload(attachment, context)

    async def direct_upload(request: Request, context: RequestContext) -> Response:
        if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
            raise _HTTPError(400, "Send the file as the multipart field `file`", "missing_file")
        async with request.form(max_files=1) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise _HTTPError(400, "Send the file as the multipart field `file`", "missing_file")
            params = AttachmentCreateParams(
                name=upload.filename or "upload",
                size=upload.size or 0,
                mime_type=upload.content_type or "application/octet-stream",
            )
            attachment = await store.create_attachment(params, context)
            await store.save_attachment(attachment, context)
            try:
                with store.upload(attachment.id) as writer:
                    while chunk := await upload.read(_CHUNK):
                        writer.write(chunk)
            except BaseException:
                await store.delete_attachment(attachment.id, context)
                raise
        return await finish_upload(attachment, context)

    async def preview(request: Request, context: RequestContext) -> Response:
        attachment = await store.load_attachment(request.path_params["attachment_id"], context)
        if not store.has_bytes(attachment.id):
            raise _HTTPError(404, f"Nothing was uploaded for attachment {attachment.id!r} yet", "not_uploaded")
        return StreamingResponse(
            store.iter_attachment_bytes(attachment.id),
            media_type=attachment.mime_type,
            headers={"Content-Length": str(store.attachment_size(attachment.id))},
        )

    routes = [
        Route("/chatkit", endpoint(protocol), methods=["POST"]),
        Route("/chatkit/upload/{attachment_id}", endpoint(two_phase_upload), methods=["POST", "PUT"]),
        Route("/chatkit/files", endpoint(direct_upload), methods=["POST"]),
        Route("/chatkit/preview/{attachment_id}", endpoint(preview), methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.state.chatkit_server = chatkit
    return app


@contextmanager
def serve_local_server(
    *,
    required_headers: Mapping[str, str] | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    server: LocalChatKitServer | None = None,
) -> Iterator[RunningLocalServer]:
    """Run a `LocalChatKitServer` on `host:port` (a free port by default) until the block ends.

    >>> with serve_local_server() as running:  # doctest: +SKIP
    ...     httpx2.post(running.url, json={"type": "threads.list", "params": {}}).json()
    {'data': [], 'has_more': False}
    """
    chatkit = server if server is not None else LocalChatKitServer()
    app = create_local_app(server=chatkit, required_headers=required_headers)
    try:
        with serve_app(app, host=host, port=port) as origin:
            yield RunningLocalServer(origin=origin, server=chatkit)
    finally:
        if server is None:
            chatkit.store.close()
