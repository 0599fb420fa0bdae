"""`ChatKit(app=...)` and `ChatKit(server=...)`: both clients against a ChatKit server in the same process.

The apps are built from the test kit's real pieces (openai-chatkit's `ChatKitServer` with the
scripted agent and the in-memory store); nothing of ours is mocked.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import warnings
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import httpx2
import pytest
from fastapi import Depends, FastAPI, Header, HTTPException
from fastapi import Request as FastAPIRequest
from fastapi.responses import Response as FastAPIResponse
from fastapi.responses import StreamingResponse as FastAPIStreamingResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route

from chatkit_client import (
    APITimeoutError,
    AsyncChatKit,
    AuthenticationError,
    ChatKit,
    InternalServerError,
    InvalidInputError,
    NotFoundError,
    StreamError,
    StreamInterruptedError,
)
from chatkit_client._asgi_transport import StreamingASGITransport
from chatkit_client.testing import LocalChatKitServer, RequestContext, create_local_app, serve_app
from chatkit_client.types import AssistantMessageContentPartTextDelta, ThreadItemUpdatedEvent
from tests.helpers import close, collect, make_client, resolve

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from chatkit.server import StreamingResult
    from chatkit.types import (
        AssistantMessageContent,
        AssistantMessageContentPartAdded,
        AssistantMessageContentPartDone,
        AssistantMessageItem,
        ThreadItemAddedEvent,
        ThreadItemDoneEvent,
    )
    from chatkit.types import (
        AssistantMessageContentPartTextDelta as ServerTextDelta,
    )
    from chatkit.types import (
        ThreadItemUpdatedEvent as ServerItemUpdated,
    )

ORIGIN = "http://testserver"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


@pytest.fixture(params=["app", "server"])
def mode(request: pytest.FixtureRequest) -> str:
    """Run a test once through `app=` (HTTP routes in-process) and once through `server=` (process())."""
    return str(request.param)


def in_process(kind: str, mode: str, server: LocalChatKitServer, **kwargs: Any) -> Any:
    if mode == "app":
        return make_client(kind, app=create_local_app(server=server), timeout=10, **kwargs)
    return make_client(kind, server=server, context=RequestContext(origin=ORIGIN), timeout=10, **kwargs)


def is_delta(event: Any) -> bool:
    return isinstance(event, ThreadItemUpdatedEvent) and isinstance(event.update, AssistantMessageContentPartTextDelta)


async def next_event(iterator: Any) -> Any:
    if hasattr(iterator, "__anext__"):
        return await iterator.__anext__()
    return next(iterator)


# ----------------------------------------------------------------------------------- streaming proof


class GatedServer(LocalChatKitServer):
    """Streams one text delta, then waits for `gate` (set by the test) before it finishes its answer."""

    def __init__(self, gate_timeout: float = 20.0) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.gate_timeout = gate_timeout
        self.cancelled_items: list[list[str]] = []

    async def respond(self, thread: Any, input_user_message: Any, context: RequestContext) -> AsyncIterator[Any]:
        item = AssistantMessageItem(
            id=self.store.generate_item_id("message", thread, context),
            thread_id=thread.id,
            created_at=datetime.now(),
            content=[],
        )
        yield ThreadItemAddedEvent(item=item)
        yield ServerItemUpdated(
            item_id=item.id,
            update=AssistantMessageContentPartAdded(content_index=0, content=AssistantMessageContent(text="")),
        )
        yield ServerItemUpdated(item_id=item.id, update=ServerTextDelta(content_index=0, delta="first "))
        # A thread, so that a sync test (whose app runs on another thread) can open the gate.
        opened = await asyncio.to_thread(self.gate.wait, self.gate_timeout)
        last = "released" if opened else "timed-out"
        yield ServerItemUpdated(item_id=item.id, update=ServerTextDelta(content_index=0, delta=last))
        content = AssistantMessageContent(text="first " + last)
        yield ServerItemUpdated(
            item_id=item.id, update=AssistantMessageContentPartDone(content_index=0, content=content)
        )
        yield ThreadItemDoneEvent(item=item.model_copy(update={"content": [content]}))

    async def handle_stream_cancelled(self, thread: Any, pending_items: list[Any], context: Any) -> None:
        self.cancelled_items.append([item.id for item in pending_items])
        await super().handle_stream_cancelled(thread, pending_items, context)


@pytest.fixture
def gated() -> Iterator[GatedServer]:
    server = GatedServer()
    yield server
    server.gate.set()  # never leave a worker thread waiting


@pytest.mark.anyio
async def test_events_arrive_while_the_app_waits_for_the_test(kind: str, mode: str, gated: GatedServer) -> None:
    client = in_process(kind, mode, gated)
    try:
        stream = client.chat().stream("hello")
        iterator = stream.__aiter__() if kind == "async" else iter(stream)
        seen: list[Any] = []
        while not any(is_delta(event) for event in seen):
            seen.append(await next_event(iterator))
        # The app is now blocked until this test opens the gate: a buffering transport would never get here
        # before the gate timed out, and the answer would end "timed-out".
        text_before = stream.reply.text
        gated.gate.set()
        rest = await collect(iterator)
        reply = stream.reply
        await resolve(stream.close())
    finally:
        await close(client)
    assert text_before == "first "
    assert reply.text == "first released"
    assert seen[0].type == "thread.created"
    assert sum(is_delta(event) for event in seen + rest) == 2


@pytest.mark.anyio
async def test_httpx2_asgi_transport_buffers_so_the_same_proof_fails() -> None:
    """The control: with httpx2's own ASGITransport the first delta arrives only after the app gave up."""
    gated = GatedServer(gate_timeout=0.5)
    app = create_local_app(server=gated)
    http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app))
    client = AsyncChatKit(server_url="http://testserver/chatkit", http_client=http, timeout=10)
    try:
        stream = client.chat().stream("hello")
        async for event in stream:
            if is_delta(event):
                gated.gate.set()
        reply = stream.reply
    finally:
        await client.close()
        await http.aclose()
    assert reply.text == "first timed-out"


@pytest.mark.anyio
async def test_closing_a_stream_early_disconnects_and_cancels_the_app(kind: str, mode: str, gated: GatedServer) -> None:
    client = in_process(kind, mode, gated)
    try:
        chat = client.chat()
        stream = chat.stream("hello")
        iterator = stream.__aiter__() if kind == "async" else iter(stream)
        while not is_delta(await next_event(iterator)):
            pass
        await resolve(stream.close())
        cancelled = list(gated.cancelled_items)
        cancelled_threads = list(gated.cancelled)
        gated.gate.set()
        # The server is still usable, on the same thread.
        gated.gate.clear()
        follow_up = chat.stream("again")
        collected = []
        iterator = follow_up.__aiter__() if kind == "async" else iter(follow_up)
        while not any(is_delta(event) for event in collected):
            collected.append(await next_event(iterator))
        gated.gate.set()
        collected += await collect(iterator)
        again = follow_up.reply
    finally:
        await close(client)
    # openai-chatkit ran its stream-cancelled handling for the pending assistant message, as behind uvicorn.
    assert len(cancelled) == 1 and len(cancelled[0]) == 1
    assert cancelled_threads == [chat.thread_id]
    assert again.text == "first released"
    assert again.thread_id == chat.thread_id


# ------------------------------------------------------------------------------------ the whole API


@pytest.mark.anyio
async def test_conversation_tools_widgets_threads_and_retries(kind: str, mode: str) -> None:
    server = LocalChatKitServer()
    seen: list[dict[str, Any]] = []

    def weather(arguments: dict[str, Any]) -> dict[str, Any]:
        seen.append(arguments)
        return {"forecast": "sunny"}

    client = in_process(kind, mode, server)
    try:
        chat = client.chat(client_tools={"get_weather": weather})
        first = await resolve(chat.send("hello world"))
        tool = await resolve(chat.send('tool:get_weather {"city": "Paris"}'))
        widget_reply = await resolve(chat.send("widget"))
        [widget] = widget_reply.widgets
        action = await resolve(
            chat.custom_action({"type": "counter.increment", "payload": {"count": 0}}, item_id=widget.id)
        )
        with pytest.raises(StreamError) as failed:
            await resolve(chat.send("retry"))
        retried = await resolve(chat.retry())
        with pytest.raises(StreamInterruptedError) as crash:
            await resolve(chat.send("crash"))
        await resolve(chat.feedback(first.assistant_messages[0].id, "positive"))
        items = await collect(await resolve(chat.items(order="asc")))
        renamed = await resolve(chat.rename("In-process"))
        thread = await resolve(chat.get_thread())
        threads = await collect(await resolve(chat.threads()))
        await resolve(chat.delete_thread())
        with pytest.raises(NotFoundError):
            await resolve(chat.get_thread(first.thread_id))
    finally:
        await close(client)
    assert first.text == "You said: hello world"
    assert tool.text == 'Tool get_weather returned: {"forecast":"sunny"}' and seen == [{"city": "Paris"}]
    assert action.text == "Count is now 1"
    assert failed.value.allow_retry is True
    assert retried.text == "Attempt 2 succeeded: You said: retry"
    assert crash.value.reply is not None and crash.value.reply.text  # what arrived before the drop
    assert [record.kind for record in server.feedback] == ["positive"]
    assert items[0].type == "user_message" and len(items) > 8
    assert renamed.title == thread.title == "In-process"
    assert [t.id for t in threads] == [first.thread_id]
    assert server.store.thread_ids() == []


@pytest.mark.anyio
async def test_two_phase_upload_to_the_apps_own_upload_route(kind: str) -> None:
    server = LocalChatKitServer()
    client = make_client(kind, app=create_local_app(server=server), timeout=10)
    try:
        chat = client.chat()
        uploaded = await resolve(chat.upload(("diagram.png", PNG, "image/png")))
        reply = await resolve(chat.send("look", attachments=[uploaded.id]))
        inline = await resolve(chat.send("inline", files=[("notes.txt", b"some notes", "text/plain")]))
    finally:
        await close(client)
    # The descriptor names the app's own route on the in-process origin, and the bytes went there.
    assert uploaded.upload_descriptor is not None
    assert uploaded.upload_descriptor.url == f"http://testserver/chatkit/upload/{uploaded.id}"
    assert server.store.read_attachment_bytes(uploaded.id) == PNG
    assert f"diagram.png (image/png, {len(PNG)} bytes)" in reply.text
    assert "notes.txt (text/plain, 10 bytes)" in inline.text


@pytest.mark.anyio
async def test_direct_upload_url_on_the_app(kind: str) -> None:
    server = LocalChatKitServer()
    client = make_client(
        kind, app=create_local_app(server=server), upload_url="http://testserver/chatkit/files", timeout=10
    )
    try:
        reply = await resolve(client.chat().send("direct", files=[("pic.png", PNG, "image/png")]))
    finally:
        await close(client)
    assert reply.user_message is not None
    [attachment] = reply.user_message.attachments
    assert server.store.read_attachment_bytes(attachment.id) == PNG


@pytest.mark.anyio
async def test_server_mode_answers_404_for_an_unknown_thread_and_for_http_routes(kind: str) -> None:
    server = LocalChatKitServer()
    # The store builds upload URLs from the context's origin: the in-process one, where only /chatkit exists.
    client = make_client(kind, server=server, context=RequestContext(origin=ORIGIN), timeout=10, max_retries=0)
    try:
        with pytest.raises(NotFoundError):
            await resolve(client.chat(thread_id="thr_missing").send("hello"))
        with pytest.raises(NotFoundError) as upload:
            await resolve(client.chat().upload(("a.txt", b"a", "text/plain")))
    finally:
        await close(client)
    assert "app=" in str(upload.value)  # says how to test upload routes


@pytest.mark.anyio
async def test_server_mode_passes_the_context_to_the_server(kind: str) -> None:
    contexts: list[Any] = []

    class Recording(LocalChatKitServer):
        async def add_feedback(self, thread_id: str, item_ids: list[str], feedback: Any, context: Any) -> None:
            contexts.append(context)

    mine = RequestContext(headers={"x-user": "ada"}, origin="http://example.test")
    client = make_client(kind, server=Recording(), context=mine, timeout=10)
    try:
        chat = client.chat()
        reply = await resolve(chat.send("hi"))
        await resolve(chat.feedback(reply.assistant_messages[0].id, "negative"))
    finally:
        await close(client)
    assert contexts == [mine] and contexts[0] is mine


@pytest.mark.anyio
async def test_a_sync_client_is_shared_by_threads(kind: str) -> None:
    if kind == "async":
        client = AsyncChatKit(app=create_local_app(), timeout=10)
        try:
            replies = await asyncio.gather(*(client.chat().send(f"message {n}") for n in range(6)))
        finally:
            await client.close()
    else:
        sync = ChatKit(app=create_local_app(), timeout=10)
        try:
            with ThreadPoolExecutor(4) as pool:
                replies = list(pool.map(lambda n: sync.chat().send(f"message {n}"), range(6)))
        finally:
            sync.close()
    assert [reply.text for reply in replies] == [f"You said: message {n}" for n in range(6)]
    assert len({reply.thread_id for reply in replies}) == 6


# ---------------------------------------------------------------------------- paths, headers, auth


@pytest.mark.anyio
async def test_endpoint_under_another_path_and_full_url(kind: str) -> None:
    server = LocalChatKitServer()
    mounted = Starlette(routes=[Mount("/api", app=create_local_app(server=server))])
    by_path = make_client(kind, app=mounted, server_url="/api/chatkit", timeout=10)
    # A full URL keeps its origin (the Host the app sees); the app's upload URLs on it stay in-process.
    by_url = make_client(
        kind, app=create_local_app(server=server), server_url="https://chat.example/chatkit", timeout=10
    )
    try:
        reply = await resolve(by_path.chat().send("under /api"))
        uploaded = await resolve(by_url.chat().upload(("a.txt", b"abc", "text/plain")))
    finally:
        await close(by_path)
        await close(by_url)
    assert by_path.server_url == "http://testserver/api/chatkit"
    assert reply.text == "You said: under /api"
    assert by_url.server_url == "https://chat.example/chatkit"
    assert uploaded.upload_descriptor is not None
    assert uploaded.upload_descriptor.url == f"https://chat.example/chatkit/upload/{uploaded.id}"
    assert server.store.read_attachment_bytes(uploaded.id) == b"abc"


def fastapi_app(server: LocalChatKitServer) -> FastAPI:
    """A FastAPI ChatKit endpoint as its documentation shows it, behind a bearer-token dependency."""
    app = FastAPI()

    def require_token(authorization: str | None = Header(default=None)) -> str:
        if authorization != "Bearer let-me-in":
            raise HTTPException(status_code=401, detail="bad token")
        return "ada"

    @app.post("/chatkit")
    async def chatkit(request: FastAPIRequest, user: str = Depends(require_token)) -> FastAPIResponse:
        context = RequestContext(headers={"x-user": user}, origin=str(request.base_url).rstrip("/"))
        result = await server.process(await request.body(), context)
        if isinstance(result, StreamingResult):
            return FastAPIStreamingResponse(result, media_type="text/event-stream")
        return FastAPIResponse(content=result.json, media_type="application/json")

    return app


@pytest.mark.anyio
async def test_fastapi_app_with_an_auth_dependency(kind: str) -> None:
    server = LocalChatKitServer()
    app = fastapi_app(server)
    good = make_client(kind, app=app, headers={"Authorization": "Bearer let-me-in"}, timeout=10)
    bad = make_client(kind, app=app, headers={"Authorization": "Bearer wrong"}, timeout=10)
    try:
        chat = good.chat()
        reply = await resolve(chat.send("hello fastapi"))
        pending = await resolve(chat.send('tool:lookup {"q": "x"}'))
        answer = await resolve(chat.add_tool_output({"found": True}))
        with pytest.raises(AuthenticationError) as refused:
            await resolve(bad.chat().send("hello"))
    finally:
        await close(good)
        await close(bad)
    assert reply.text == "You said: hello fastapi"
    assert pending.pending_client_tool_call is not None
    assert answer.text == 'Tool lookup returned: {"found":true}'
    assert refused.value.status_code == 401 and refused.value.body == {"detail": "bad token"}


# ------------------------------------------------------------------------------------------ lifespan


def lifespan_app(events: list[str]) -> Starlette:
    """An app that opens its ChatKit server (and store) at start-up, as production apps do."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        server = LocalChatKitServer()
        events.append("startup")
        yield {"chatkit": server}
        events.append("shutdown")
        server.store.close()

    async def endpoint(request: Request) -> Response:
        server: LocalChatKitServer = request.state.chatkit
        result = await server.process(await request.body(), RequestContext(origin="http://testserver"))
        if isinstance(result, StreamingResult):
            return StreamingResponse(result, media_type="text/event-stream")
        return Response(result.json, media_type="application/json")

    return Starlette(routes=[Route("/chatkit", endpoint, methods=["POST"])], lifespan=lifespan)


@pytest.mark.anyio
async def test_lifespan_runs_start_up_before_the_first_request_and_shutdown_at_close(kind: str) -> None:
    events: list[str] = []
    client = make_client(kind, app=lifespan_app(events), lifespan=True, timeout=10)
    try:
        assert events == []  # nothing runs until the client is used
        reply = await resolve(client.chat().send("hello"))
        again = await resolve(client.chat().send("again"))
        assert events == ["startup"]
    finally:
        await close(client)
    assert events == ["startup", "shutdown"]
    assert reply.text == "You said: hello" and again.text == "You said: again"


@pytest.mark.anyio
async def test_without_lifespan_such_an_app_fails_with_its_own_error(kind: str) -> None:
    client = make_client(kind, app=lifespan_app([]), timeout=10, max_retries=0)
    try:
        with pytest.raises(AttributeError, match="chatkit"):
            await resolve(client.chat().send("hello"))
    finally:
        await close(client)


@pytest.mark.anyio
async def test_lifespan_on_an_app_without_lifespan_support_is_skipped(kind: str) -> None:
    async def bare(scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        await create_local_app()(scope, receive, send)

    client = make_client(kind, app=bare, lifespan=True, timeout=10)
    try:
        reply = await resolve(client.chat().send("no lifespan"))
    finally:
        await close(client)
    assert reply.text == "You said: no lifespan"


@pytest.mark.anyio
async def test_a_failed_start_up_is_raised(kind: str) -> None:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        raise RuntimeError("database unreachable")
        yield

    client = make_client(kind, app=Starlette(lifespan=lifespan), lifespan=True, timeout=10, max_retries=0)
    try:
        with pytest.raises(RuntimeError, match="database unreachable"):
            await resolve(client.chat().send("hello"))
    finally:
        await close(client)


# ---------------------------------------------------------------------------------- app failures


def failing_app() -> Starlette:
    async def broken(request: Request) -> Response:
        raise ZeroDivisionError("the app's own bug")

    async def silent(request: Request) -> Response:
        await asyncio.sleep(30)
        return JSONResponse({})

    return Starlette(routes=[Route("/chatkit", broken, methods=["POST"]), Route("/silent", silent, methods=["POST"])])


@pytest.mark.anyio
async def test_an_exception_in_the_app_is_raised_to_the_test(kind: str) -> None:
    client = make_client(kind, app=failing_app(), timeout=10)
    try:
        with pytest.raises(ZeroDivisionError, match="the app's own bug"):
            await resolve(client.chat().send("hello"))
    finally:
        await close(client)


@pytest.mark.anyio
async def test_raise_app_exceptions_false_gives_the_500_a_server_would_send() -> None:
    transport = StreamingASGITransport(failing_app(), raise_app_exceptions=False)
    http = httpx2.AsyncClient(transport=transport)
    client = AsyncChatKit(server_url="http://testserver/chatkit", http_client=http, max_retries=0)
    try:
        with pytest.raises(InternalServerError) as error:
            await client.chat().send("hello")
    finally:
        await client.close()
        await http.aclose()
    assert error.value.status_code == 500


@pytest.mark.anyio
async def test_an_app_that_sends_nothing_times_out(kind: str) -> None:
    client = make_client(kind, app=failing_app(), server_url="/silent", timeout=0.3, max_retries=0)
    try:
        with pytest.raises(APITimeoutError):
            await resolve(client.chat().threads())
    finally:
        await close(client)


# ------------------------------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"app": create_local_app(), "server": LocalChatKitServer()}, "server"),
        ({"context": {}}, "context"),
        ({"lifespan": True}, "lifespan"),
        ({"app": create_local_app(), "http_client": httpx2.Client()}, "http_client"),
        ({"app": "main:app"}, "app"),
        ({"server": object()}, "server"),
        ({"server": LocalChatKitServer(), "lifespan": True}, "lifespan"),
        ({"app": create_local_app(), "server_url": "chatkit"}, "server_url"),
    ],
)
def test_bad_in_process_arguments_name_the_field(kind: str, kwargs: dict[str, Any], field: str) -> None:
    cls = ChatKit if kind == "sync" else AsyncChatKit
    with pytest.raises(InvalidInputError) as error:
        cls(**kwargs)
    assert error.value.field == field


@pytest.mark.anyio
async def test_with_options_copy_talks_to_the_same_app(kind: str) -> None:
    server = LocalChatKitServer()
    client = make_client(kind, app=create_local_app(server=server), timeout=10)
    try:
        copy = client.with_options(max_retries=0)
        reply = await resolve(copy.chat().send("from the copy"))
    finally:
        await close(client)
    assert reply.text == "You said: from the copy"
    assert server.store.thread_ids() == [reply.thread_id]


@pytest.mark.anyio
async def test_upload_urls_on_another_origin_go_over_the_network(kind: str) -> None:
    """A server that signs uploads for separate storage: the bytes leave the process, the protocol does not."""
    server = LocalChatKitServer()
    with serve_app(create_local_app(server=server)) as storage_origin:

        async def endpoint(request: Request) -> Response:
            # The store builds upload URLs from the context's origin: here, the storage server on loopback.
            result = await server.process(await request.body(), RequestContext(origin=storage_origin))
            if isinstance(result, StreamingResult):
                return StreamingResponse(result, media_type="text/event-stream")
            return Response(result.json, media_type="application/json")

        app = Starlette(routes=[Route("/chatkit", endpoint, methods=["POST"])])
        client = make_client(kind, app=app, timeout=10)
        try:
            uploaded = await resolve(client.chat().upload(("a.txt", b"to storage", "text/plain")))
        finally:
            await close(client)
    assert uploaded.upload_descriptor is not None
    assert uploaded.upload_descriptor.url.startswith(storage_origin + "/chatkit/upload/")
    assert server.store.read_attachment_bytes(uploaded.id) == b"to storage"
