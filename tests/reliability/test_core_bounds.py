"""Issue 13 (items 4, 12, 14, 16, 17, 19, 20, 24, 25) and issue 8 (a server failing after its 200 status,
local refusals, `reply.thread`) as scenarios, with ChatKit and AsyncChatKit.

Raw servers come from `misbehaving_server.py` (scenarios registered here with `@scenario`); the server that
fails after its 200 status is openai-chatkit itself, hosted the documented way (`StreamingResponse(result)`).
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

import pytest
from click.testing import CliRunner

from chatkit_client import (
    APIResponseValidationError,
    AsyncChatKit,
    Chat,
    ChatKit,
    InternalServerError,
    InvalidInputError,
    StreamDecodeError,
    StreamEndedEarlyError,
    ToolRoundsExceededError,
)
from chatkit_client._core.chat import DEFAULT_MAX_TOOL_ROUNDS
from chatkit_client._core.reply import PROGRESS_HISTORY
from tests.helpers import close, make_client, resolve
from tests.reliability.misbehaving_server import (
    ASSISTANT_ID,
    CLIENT_SECRET,
    SSE_HEADERS,
    THREAD_ID,
    Conn,
    MisbehavingServer,
    Request,
    answer_normally,
    chunk,
    reply_events,
    scenario,
    session_json,
    sse_body,
)

TEXT = "hello there"
API_KEY = "sk-test-core-bounds"


def finish(body: bytes) -> bytes:
    return SSE_HEADERS + b"\r\n" + chunk(body) + b"0\r\n\r\n" if body else SSE_HEADERS + b"\r\n0\r\n\r\n"


# -- scenarios ---------------------------------------------------------------------------------------------


@scenario("core_empty_sse")
async def _empty_sse(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    await conn.send(finish(b""))


@scenario("core_junk_sse")
async def _junk_sse(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    await conn.send(finish(b"\x00\xff\x13\x89PNG\r\n\x1a\nbinary junk\x8b\x08"))


@scenario("core_br_sse")
async def _br_sse(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    # Brotli-looking bytes labelled br: httpx2 passes them through raw when it cannot decode br.
    head = SSE_HEADERS.replace(b"transfer-encoding", b"content-encoding: br\r\ntransfer-encoding")
    await conn.send(head + b"\r\n" + chunk(b"\x1b\x8f\x00\xf8\x25\x82\x42\x9c\x00") + b"0\r\n\r\n")


@scenario("core_index_jumps")
async def _index_jumps(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    events = reply_events(req.user_text)[:4]
    for n in range(2000):
        update = {"type": "assistant_message.content_part.text_delta", "content_index": n * 1000, "delta": "x"}
        events.append({"type": "thread.item.updated", "item_id": ASSISTANT_ID, "update": update})
    await conn.send(finish(sse_body(events)))


PROGRESS_EVENTS = 20_000


@scenario("core_progress_flood")
async def _progress_flood(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    flood = [{"type": "progress_update", "text": f"step {n}"} for n in range(PROGRESS_EVENTS)]
    await conn.send(finish(sse_body(flood + reply_events(req.user_text))))


@scenario("core_tool_loop")
async def _tool_loop(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    """Every message and every tool output is answered by another call of the same failing tool."""
    n = len(server.conversation_requests(req.scenario))
    call = {
        "id": f"cti_call_{n}",
        "thread_id": THREAD_ID,
        "created_at": "2026-01-01T00:00:00",
        "type": "client_tool_call",
        "name": "flaky",
        "arguments": {},
        "call_id": f"call_{n}",
        "status": "pending",
    }
    events = reply_events(req.user_text)[:2] if n == 1 else []
    await conn.send(finish(sse_body([*events, {"type": "thread.item.done", "item": call}])))


SKEW = 7200


@scenario("core_skewed_session")
async def _skewed_session(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    """The server's clock is two hours behind ours: its Date and the session's expiry say so."""
    if req.is_session:
        server_now = time.time() - SKEW
        body = json.loads(session_json())
        body["expires_at"] = int(server_now) + 600
        await conn.respond("200 OK", json.dumps(body).encode(), extra={"date": formatdate(server_now, usegmt=True)})
    else:
        await answer_normally(conn, req)


WORKFLOW_TASKS = 10_000


@scenario("core_workflow_tasks")
async def _workflow_tasks(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    workflow = {
        "id": "cti_wf",
        "thread_id": THREAD_ID,
        "created_at": "2026-01-01T00:00:00",
        "type": "workflow",
        "workflow": {"type": "custom", "tasks": []},
    }
    events: list[dict[str, Any]] = [{"type": "thread.item.added", "item": workflow}]
    for n in range(WORKFLOW_TASKS):
        task = {"type": "custom", "title": f"task {n}"}
        update = {"type": "workflow.task.added", "task_index": n, "task": task}
        events.append({"type": "thread.item.updated", "item_id": "cti_wf", "update": update})
    await conn.send(finish(sse_body(events + reply_events(req.user_text))))


DEEP = 700


@scenario("core_deep_widget")
async def _deep_widget(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    widget = '{"type":"Box","children":[' * DEEP + '{"type":"Text","value":"x"}' + "]}" * DEEP
    item = f'{{"id":"cti_w","thread_id":"{THREAD_ID}","created_at":0,"type":"widget","widget":{widget}}}'
    deep = b'data: {"type":"thread.item.done","item":' + item.encode() + b"}\n\n"
    await conn.send(finish(sse_body(reply_events(req.user_text)) + deep))


@scenario("core_deep_item_page")
async def _deep_item_page(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    # 150 widget levels (~300 JSON levels): past the limit, yet within what json.loads decodes.
    widget = '{"type":"Box","children":[' * 150 + '{"type":"Text","value":"x"}' + "]}" * 150
    item = f'{{"id":"cti_w","thread_id":"{THREAD_ID}","created_at":0,"type":"widget","widget":{widget}}}'
    await conn.respond("200 OK", b'{"data":[' + item.encode() + b'],"has_more":false}')


@pytest.fixture(scope="module")
def server() -> Iterator[MisbehavingServer]:
    with MisbehavingServer() as running:
        yield running


def self_hosted(kind: str, server: MisbehavingServer, name: str, **kwargs: Any) -> ChatKit | AsyncChatKit:
    return make_client(kind, server_url=server.url(name), timeout=5, max_retries=2, **kwargs)


def hosted(kind: str, server: MisbehavingServer, name: str, **kwargs: Any) -> ChatKit | AsyncChatKit:
    return make_client(kind, base_url=server.url(name) + "/v1", api_key=API_KEY, timeout=5, **kwargs)


# -- item 4: a 2xx stream without events ---------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("core_empty_sse", "the body was empty"),
        ("core_junk_sse", "held no event"),
        ("core_br_sse", "Content-Encoding: br"),
    ],
)
async def test_a_2xx_stream_without_events_says_no_answer_arrived(
    kind: str, server: MisbehavingServer, name: str, hint: str
) -> None:
    client = self_hosted(kind, server, name)
    server.reset_log()
    with pytest.raises(StreamEndedEarlyError) as caught:
        await resolve(client.chat().send(TEXT))
    await close(client)
    err = caught.value
    assert "no answer arrived" in err.message and hint in err.message and "not sent again" in err.message
    assert err.reply is not None and err.reply.items == []
    assert len(server.conversation_requests(name)) == 1


# -- issue 8: a server that fails after its 200 status (openai-chatkit, hosted as documented) ---------------


@dataclass
class DocumentedServer:
    url: str
    server: Any
    seen: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def documented() -> Iterator[DocumentedServer]:
    """openai-chatkit behind `StreamingResponse(result)`, as its README hosts it (no error mapping)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # openai-chatkit's widgets warn on import
        from chatkit.server import StreamingResult
    from starlette.applications import Starlette
    from starlette.requests import Request as HTTPRequest
    from starlette.responses import Response, StreamingResponse
    from starlette.routing import Route

    from chatkit_client.testing import LocalChatKitServer, RequestContext, serve_app

    chatkit = LocalChatKitServer()
    seen: list[str] = []

    async def endpoint(request: HTTPRequest) -> Response:
        body = await request.body()
        seen.append(json.loads(body)["type"])
        result = await chatkit.process(body, RequestContext(headers=dict(request.headers), origin=""))
        if isinstance(result, StreamingResult):
            return StreamingResponse(result, media_type="text/event-stream")
        return Response(result.json, media_type="application/json")

    app = Starlette(routes=[Route("/chatkit", endpoint, methods=["POST"])])
    # The server logs the exceptions it raises mid-stream; they are the point of these tests.
    quiet = [logging.getLogger(name) for name in ("chatkit", "uvicorn.error")]
    levels = [logger.level for logger in quiet]
    for logger in quiet:
        logger.setLevel(logging.CRITICAL)
    try:
        with serve_app(app) as origin:
            yield DocumentedServer(url=origin + "/chatkit", server=chatkit, seen=seen)
    finally:
        for logger, level in zip(quiet, levels, strict=True):
            logger.setLevel(level)
        chatkit.store.close()


@pytest.mark.anyio
async def test_an_unknown_thread_on_the_real_server_is_a_stream_that_ended_early(
    kind: str, documented: DocumentedServer
) -> None:
    client = make_client(kind, server_url=documented.url, timeout=5, max_retries=2)
    documented.seen.clear()
    with pytest.raises(StreamEndedEarlyError) as caught:
        await resolve(client.chat(thread_id="thr_does_not_exist").send(TEXT))
    await close(client)
    err = caught.value
    assert "accepted the request (200)" in err.message and "before any event" in err.message
    assert "its log has the cause" in err.message and "not sent again" in err.message
    assert err.events_received == 0 and err.reply is not None and err.reply.thread_id == "thr_does_not_exist"
    assert documented.seen == ["threads.add_user_message"]


@pytest.mark.anyio
async def test_a_crash_mid_answer_on_the_real_server_keeps_the_events_before_it(
    kind: str, documented: DocumentedServer
) -> None:
    client = make_client(kind, server_url=documented.url, timeout=5, max_retries=2)
    documented.seen.clear()
    chat = client.chat()
    with pytest.raises(StreamEndedEarlyError) as caught:
        await resolve(chat.send("crash"))
    await close(client)
    err = caught.value
    assert err.events_received > 0 and f"after {err.events_received} events" in err.message
    assert err.reply is not None and err.reply.text.startswith("This reply will crash")
    assert chat.thread_id is not None and documented.seen == ["threads.create"]


# -- issue 8: refuse locally what the Chat knows is wrong -------------------------------------------------


@pytest.mark.anyio
async def test_a_tool_output_with_no_pending_call_is_refused_before_sending(
    kind: str, documented: DocumentedServer
) -> None:
    client = make_client(kind, server_url=documented.url, timeout=5)
    chat = client.chat()
    await resolve(chat.send(TEXT))
    documented.seen.clear()
    with pytest.raises(InvalidInputError, match="no client tool call is waiting"):
        await resolve(chat.add_tool_output({"forecast": "sunny"}))
    await close(client)
    assert documented.seen == []


@pytest.mark.anyio
async def test_a_structured_input_answered_twice_is_refused_before_sending(
    kind: str, documented: DocumentedServer
) -> None:
    client = make_client(kind, server_url=documented.url, timeout=5)
    chat = client.chat()
    asked = await resolve(chat.send("ask"))
    pending = [item for item in asked.items if item.type == "structured_input"]
    assert len(pending) == 1
    answered = await resolve(chat.add_structured_input(pending[0].id, {"color": "blue"}))
    assert "You answered" in answered.text
    documented.seen.clear()
    with pytest.raises(InvalidInputError, match="already answered"):
        await resolve(chat.add_structured_input(pending[0].id, {"color": "red"}))
    assert asked.user_message is not None
    with pytest.raises(InvalidInputError, match="user_message item"):
        await resolve(chat.add_structured_input(asked.user_message.id, {"color": "red"}))
    await close(client)
    assert documented.seen == []


@pytest.mark.anyio
async def test_retry_on_a_thread_without_a_user_message_is_refused_before_sending(
    kind: str, documented: DocumentedServer
) -> None:
    from datetime import datetime

    from chatkit.types import ThreadMetadata

    from chatkit_client.testing import RequestContext

    store = documented.server.store
    await store.save_thread(ThreadMetadata(id="thr_no_user", created_at=datetime.now()), RequestContext(headers={}))
    client = make_client(kind, server_url=documented.url, timeout=5)
    documented.seen.clear()
    with pytest.raises(InvalidInputError, match="no user message in this thread"):
        await resolve(client.chat(thread_id="thr_no_user").retry())
    await close(client)
    assert documented.seen == ["items.list"]  # looked for one; never sent threads.retry_after_item


@pytest.mark.anyio
async def test_retry_finds_the_last_user_message_behind_more_than_one_page_of_newer_items(
    kind: str, documented: DocumentedServer
) -> None:
    from datetime import datetime, timedelta

    from chatkit.types import (
        AssistantMessageContent,
        AssistantMessageItem,
        InferenceOptions,
        ThreadMetadata,
        UserMessageTextContent,
    )
    from chatkit.types import UserMessageItem as SdkUserMessageItem

    from chatkit_client.testing import RequestContext

    store, context, start = documented.server.store, RequestContext(headers={}), datetime(2026, 1, 1)
    thread_id = f"thr_deep_{kind}"
    await store.save_thread(ThreadMetadata(id=thread_id, created_at=start), context)
    user = SdkUserMessageItem(
        id=f"msg_user_{kind}",
        thread_id=thread_id,
        created_at=start,
        content=[UserMessageTextContent(text="tell me more")],
        attachments=[],
        inference_options=InferenceOptions(),
    )
    await store.add_thread_item(thread_id, user, context)
    for index in range(30):  # more than one 20-item page of answers after the user's message
        answer = AssistantMessageItem(
            id=f"msg_answer_{kind}_{index:02d}",
            thread_id=thread_id,
            created_at=start + timedelta(seconds=index + 1),
            content=[AssistantMessageContent(text=f"part {index}", annotations=[])],
        )
        await store.add_thread_item(thread_id, answer, context)
    client = make_client(kind, server_url=documented.url, timeout=5)
    documented.seen.clear()
    reply = await resolve(client.chat(thread_id=thread_id).retry())
    await close(client)
    assert documented.seen == ["items.list", "items.list", "threads.retry_after_item"]
    assert reply.text == "You said: tell me more"


# -- issue 8: reply.thread on every turn ------------------------------------------------------------------


@pytest.mark.anyio
async def test_every_reply_carries_the_thread_with_its_title(kind: str, documented: DocumentedServer) -> None:
    client = make_client(kind, server_url=documented.url, timeout=5)
    chat = client.chat()
    first = await resolve(chat.send("Plan a trip to Lisbon"))
    second = await resolve(chat.send("and then Porto"))
    await close(client)
    assert first.thread is not None and first.thread.title
    assert second.thread is not None and second.thread.id == chat.thread_id
    assert second.thread.title == first.thread.title and second.thread.status.type == "active"


# -- item 12: content-index amplification -----------------------------------------------------------------


@pytest.mark.anyio
async def test_deltas_jumping_far_ahead_do_not_allocate_the_gaps(kind: str, server: MisbehavingServer) -> None:
    client = self_hosted(kind, server, "core_index_jumps")
    reply = await resolve(client.chat().send(TEXT))
    await close(client)
    (message,) = reply.assistant_messages
    # 2,000 parts, one per delta: not the 2,000,001 a padded list would hold.
    assert len(message.content) == 2000
    assert reply.text == "\n\n".join(["x"] * 2000)


# -- item 14: progress flood ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_progress_flood_keeps_the_latest_and_a_bounded_history(kind: str, server: MisbehavingServer) -> None:
    client = self_hosted(kind, server, "core_progress_flood")
    reply = await resolve(client.chat().send(TEXT))
    await close(client)
    assert len(reply.progress) == PROGRESS_HISTORY
    assert reply.progress[-1].text == f"step {PROGRESS_EVENTS - 1}"
    assert reply.text == f"You said: {TEXT}"


# -- item 16: client tool rounds --------------------------------------------------------------------------


@pytest.mark.anyio
async def test_client_tool_rounds_stop_at_the_cap_with_the_reply(kind: str, server: MisbehavingServer) -> None:
    client = self_hosted(kind, server, "core_tool_loop")
    server.reset_log()
    chat = client.chat(max_tool_rounds=5, client_tools={"flaky": lambda args: {"error": "still failing"}})
    with pytest.raises(ToolRoundsExceededError, match="max_tool_rounds") as caught:
        await resolve(chat.send(TEXT))
    await close(client)
    sent = [req.json["type"] for req in server.conversation_requests("core_tool_loop")]
    assert sent == ["threads.create"] + ["threads.add_client_tool_output"] * 5
    err = caught.value
    assert err.max_tool_rounds == 5 and err.reply is not None and len(err.reply.client_tool_calls) == 6
    assert err.reply.pending_client_tool_call is not None


def test_the_default_cap_is_stated_and_bad_caps_are_refused() -> None:
    client = ChatKit(server_url="http://127.0.0.1:9/chatkit")
    assert client.chat()._max_tool_rounds == DEFAULT_MAX_TOOL_ROUNDS == 25
    with pytest.raises(InvalidInputError, match="max_tool_rounds"):
        client.chat(max_tool_rounds=-1)
    client.close()


# -- item 17: a session outage does not serialise every caller ---------------------------------------------


@pytest.mark.anyio
async def test_fifty_callers_share_one_failing_session_cycle(kind: str, server: MisbehavingServer) -> None:
    client = hosted(kind, server, "http503_session", max_retries=2)
    server.reset_log()
    chat = client.chat(user="user_rel", workflow="wf_rel")
    callers = 50
    if kind == "sync":
        barrier = threading.Barrier(callers)

        def call(_: int) -> BaseException | None:
            barrier.wait(timeout=10)
            try:
                chat.send(TEXT)
            except Exception as err:
                return err
            return None

        with ThreadPoolExecutor(callers) as pool:
            outcomes = list(pool.map(call, range(callers)))
    else:

        async def acall() -> BaseException | None:
            try:
                await resolve(chat.send(TEXT))
            except Exception as err:
                return err
            return None

        outcomes = list(await asyncio.gather(*(acall() for _ in range(callers))))
    await close(client)
    assert all(isinstance(outcome, InternalServerError) for outcome in outcomes)
    sessions = [req for req in server.requests("http503_session") if req.is_session]
    assert len(sessions) == 3  # one cycle: the first attempt and two retries, shared by all 50
    assert server.conversation_requests("http503_session") == []


# -- item 19: a local clock ahead of the server's ----------------------------------------------------------


@pytest.mark.anyio
async def test_a_clock_two_hours_ahead_does_not_create_a_session_per_turn(kind: str, server: MisbehavingServer) -> None:
    client = hosted(kind, server, "core_skewed_session")
    server.reset_log()
    chat = client.chat(user="user_rel", workflow="wf_rel")
    for n in range(3):
        reply = await resolve(chat.send(f"{TEXT} {n}"))
        assert reply.text == f"You said: {TEXT} {n}"
    await close(client)
    sessions = [req for req in server.requests("core_skewed_session") if req.is_session]
    assert len(sessions) == 1
    assert all(
        CLIENT_SECRET in req.headers.get("authorization", "") for req in server.requests("core_skewed_session")[1:]
    )


# -- item 20: workflow tasks ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_ten_thousand_workflow_tasks_arrive_whole(kind: str, server: MisbehavingServer) -> None:
    client = self_hosted(kind, server, "core_workflow_tasks")
    reply = await resolve(client.chat().send(TEXT))
    await close(client)
    (workflow,) = reply.workflows
    assert len(workflow.workflow.tasks) == WORKFLOW_TASKS
    assert workflow.workflow.tasks[-1].model_extra == {"title": f"task {WORKFLOW_TASKS - 1}"} or (
        getattr(workflow.workflow.tasks[-1], "title", None) == f"task {WORKFLOW_TASKS - 1}"
    )


# -- item 24: a 700-level widget --------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_700_level_widget_is_refused_naming_the_limit(kind: str, server: MisbehavingServer) -> None:
    client = self_hosted(kind, server, "core_deep_widget")
    with pytest.raises(StreamDecodeError, match="MAX_EVENT_DEPTH") as caught:
        await resolve(client.chat().send(TEXT))
    await close(client)
    reply = caught.value.reply
    assert reply is not None and reply.text == f"You said: {TEXT}"
    # What was kept can be dumped, as `chatkit send --json` does.
    json.dumps([item.model_dump(mode="json") for item in reply.items])


@pytest.mark.anyio
async def test_a_deep_widget_in_a_page_of_items_is_refused_naming_the_limit(
    kind: str, server: MisbehavingServer
) -> None:
    client = self_hosted(kind, server, "core_deep_item_page")
    with pytest.raises(APIResponseValidationError, match="MAX_NESTING_DEPTH"):
        await resolve(client.chat().items(THREAD_ID))
    await close(client)


def test_chatkit_send_json_reports_the_deep_widget_without_a_traceback(server: MisbehavingServer) -> None:
    from chatkit_client.cli._app import cli

    result = CliRunner().invoke(
        cli, ["--server-url", server.url("core_deep_widget"), "send", "--json", TEXT], prog_name="chatkit"
    )
    assert result.exit_code == 1
    assert "MAX_EVENT_DEPTH" in result.output and "Traceback" not in result.output
    assert "Circular reference" not in result.output


# -- item 25: leaving a text_deltas loop early -------------------------------------------------------------


@pytest.fixture(scope="module")
def local_url() -> Iterator[str]:
    from chatkit_client.testing import serve_local_server

    with serve_local_server() as running:
        yield running.url


@pytest.mark.anyio
async def test_breaking_out_of_text_deltas_without_a_with_block_closes_cleanly(
    kind: str, local_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    unraisable: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    loop_errors: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda loop, context: loop_errors.append(context))
    client = make_client(kind, server_url=local_url, timeout=5)
    chat = client.chat()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pieces: list[str] = []
        if isinstance(chat, Chat):
            for piece in chat.stream("long 200").text_deltas():
                pieces.append(piece)
                break
        else:
            async for apiece in chat.stream("long 200").text_deltas():
                pieces.append(apiece)
                break
        for _ in range(5):
            gc.collect()
            await asyncio.sleep(0.02)
        # The Chat goes on working on the same connection pool.
        after = await resolve(chat.send("still here"))
    await close(client)
    asyncio.get_running_loop().set_exception_handler(None)
    assert pieces == ["w0 "]
    assert after.text.endswith("still here")
    assert loop_errors == [] and unraisable == []
