"""Both clients in self-hosted mode against the real openai-chatkit server (`serve_local_server`) on loopback."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chatkit_client import (
    AuthenticationError,
    ConfigurationError,
    InvalidInputError,
    StreamDecodeError,
    StreamError,
    StreamInterruptedError,
)
from chatkit_client.testing import RunningLocalServer, serve_local_server
from chatkit_client.types import (
    AssistantMessageContentPartTextDelta,
    ThreadItemUpdatedEvent,
)
from tests.helpers import close, collect, make_client, resolve

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


@pytest.fixture
def running() -> Iterator[RunningLocalServer]:
    with serve_local_server() as served:
        yield served


def client_for(kind: str, running: RunningLocalServer, **kwargs: Any) -> Any:
    return make_client(kind, server_url=running.url, timeout=10, **kwargs)


def is_delta(event: Any) -> bool:
    return isinstance(event, ThreadItemUpdatedEvent) and isinstance(event.update, AssistantMessageContentPartTextDelta)


# ------------------------------------------------------------------------------------- send and stream


@pytest.mark.anyio
async def test_send_two_turns_and_new_thread(kind: str, running: RunningLocalServer) -> None:
    client = client_for(kind, running)
    try:
        chat = client.chat()
        first = await resolve(chat.send("hello world"))
        second = await resolve(chat.send("again"))
        chat.new_thread()
        assert chat.thread_id is None
        third = await resolve(chat.send("fresh start"))
    finally:
        await close(client)
    assert first.text == "You said: hello world"
    assert first.thread is not None and first.thread.title is not None and "hello" in first.thread.title
    assert second.thread_id == first.thread_id
    assert third.thread_id not in (None, first.thread_id)
    assert sorted(running.store.thread_ids()) == sorted([first.thread_id, third.thread_id])


@pytest.mark.anyio
async def test_stream_yields_events_while_the_server_is_still_streaming(kind: str, running: RunningLocalServer) -> None:
    client = client_for(kind, running)
    try:
        chat = client.chat()
        await resolve(chat.send("hi"))  # gives a thread whose stored items we can watch
        thread_id = chat.thread_id
        stream = chat.stream("slow 5")
        stored_at_first_delta: list[str] | None = None
        first_delta_item: str | None = None
        partial_text = ""
        events: list[Any] = []
        iterator = stream.__aiter__() if hasattr(stream, "__aiter__") else iter(stream)
        while True:
            try:
                event = await iterator.__anext__() if hasattr(iterator, "__anext__") else next(iterator)
            except (StopIteration, StopAsyncIteration):
                break
            events.append(event)
            if first_delta_item is None and is_delta(event):
                # The server stores the assistant message only when it is done, after the last delta.
                first_delta_item = event.item_id
                stored_at_first_delta = running.store.item_ids(thread_id)
                partial_text = stream.reply.text
        reply = stream.reply
        await resolve(stream.close())
    finally:
        await close(client)
    assert first_delta_item is not None and stored_at_first_delta is not None
    assert first_delta_item not in stored_at_first_delta
    assert first_delta_item in running.store.item_ids(thread_id)
    assert partial_text == "w0 "
    assert reply.text.split() == ["w0", "w1", "w2", "w3", "w4"]
    assert sum(is_delta(e) for e in events) == 5


@pytest.mark.anyio
async def test_text_deltas_join_to_reply_text(kind: str, running: RunningLocalServer) -> None:
    client = client_for(kind, running)
    try:
        chat = client.chat()
        stream = chat.stream("long 30")
        pieces = await collect(stream.text_deltas())
        reply = await resolve(stream.get_final_reply())
    finally:
        await close(client)
    assert len(pieces) == 30
    assert "".join(pieces).strip() == reply.text.strip()
    assert reply.text.startswith("w0 w1")


@pytest.mark.anyio
async def test_keep_events(kind: str, running: RunningLocalServer) -> None:
    client = client_for(kind, running)
    try:
        chat = client.chat()
        kept = await resolve(chat.send("hi there", keep_events=True))
        plain = await resolve(chat.send("hi again"))
    finally:
        await close(client)
    assert kept.events is not None and plain.events is None
    types = [e.type for e in kept.events]
    assert "thread.created" in types and "thread.item.done" in types
    assert sum(is_delta(e) for e in kept.events) == 4  # "You said: hi there", one delta per word


# ------------------------------------------------------------------------------------------ scripts


@pytest.mark.anyio
async def test_widget_and_custom_action(kind: str, running: RunningLocalServer) -> None:
    client = client_for(kind, running)
    try:
        chat = client.chat()
        reply = await resolve(chat.send("widget"))
        [widget] = reply.widgets
        answer = await resolve(
            chat.custom_action({"type": "counter.increment", "payload": {"count": 0}}, item_id=widget.id)
        )
    finally:
        await close(client)
    assert reply.text  # the sentence before the widget
    assert answer.text == "Count is now 1"
    assert answer.thread_id == reply.thread_id
    assert any(w.id == widget.id for w in answer.widgets)


@pytest.mark.anyio
async def test_workflow_notice_progress_effect_sources(kind: str, running: RunningLocalServer) -> None:
    client = client_for(kind, running)
    try:
        chat = client.chat()
        workflow = await resolve(chat.send("workflow"))
        notice = await resolve(chat.send("notice"))
        progress = await resolve(chat.send("progress"))
        effect = await resolve(chat.send("effect"))
        sources = await resolve(chat.send("sources"))
    finally:
        await close(client)
    [item] = workflow.workflows
    assert len(item.workflow.tasks) == 2 and item.workflow.summary is not None
    assert workflow.text
    assert len(notice.notices) == 1 and notice.notices[0].level == "info" and notice.text
    assert len(progress.progress) == 2 and progress.text
    assert [e.name for e in effect.effects] == ["demo.effect"]
    [message] = sources.assistant_messages
    annotations = [a for part in message.content for a in part.annotations]
    assert len(annotations) == 1
    assert workflow.notices == [] and notice.effects == []


@pytest.mark.anyio
async def test_error_crash_and_retry_scripts(kind: str, running: RunningLocalServer) -> None:
    client = client_for(kind, running)
    try:
        chat = client.chat()
        with pytest.raises(StreamError) as error:
            await resolve(chat.send("error"))
        with pytest.raises(StreamInterruptedError) as crash:
            await resolve(chat.send("crash"))
        with pytest.raises(StreamError) as first_try:
            await resolve(chat.send("retry"))
        retried = await resolve(chat.retry())
    finally:
        await close(client)
    assert error.value.code == "custom" and error.value.allow_retry is True
    assert error.value.error_message == "Scripted error"
    assert error.value.reply is not None and error.value.reply.text  # deltas before the error
    assert crash.value.reply is not None and crash.value.reply.text
    assert first_try.value.allow_retry is True
    assert retried.text == "Attempt 2 succeeded: You said: retry"


# --------------------------------------------------------------------------------------- client tools


@pytest.mark.anyio
async def test_client_tools_dict_and_decorator_multiple_rounds(kind: str, running: RunningLocalServer) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    def weather(arguments: dict[str, Any]) -> dict[str, Any]:
        seen.append(("weather", arguments))
        return {"forecast": "sunny"}

    client = client_for(kind, running)
    try:
        chat = client.chat(client_tools={"get_weather": weather})

        if kind == "async":

            @chat.client_tool("add")
            async def add(arguments: dict[str, Any]) -> int:
                seen.append(("add", arguments))
                return int(arguments["a"]) + int(arguments["b"])

            @chat.client_tool("sync_add")
            def sync_add(arguments: dict[str, Any]) -> int:
                seen.append(("sync_add", arguments))
                return int(arguments["a"]) + int(arguments["b"])

        else:

            @chat.client_tool("add")
            def add(arguments: dict[str, Any]) -> int:
                seen.append(("add", arguments))
                return int(arguments["a"]) + int(arguments["b"])

            chat.client_tool("sync_add")(add)

        one = await resolve(chat.send('tool:get_weather {"city": "Paris"}'))
        two = await resolve(chat.send('tool:add {"a": 2, "b": 3}'))
        three = await resolve(chat.send('tool:sync_add {"a": 1, "b": 1}'))
    finally:
        await close(client)
    assert one.text == 'Tool get_weather returned: {"forecast":"sunny"}'
    assert two.text == "Tool add returned: 5"
    assert three.text == "Tool sync_add returned: 2"
    assert [name for name, _ in seen] == ["weather", "add", "sync_add" if kind == "async" else "add"]
    assert seen[0][1] == {"city": "Paris"}
    assert one.pending_client_tool_call is None
    assert len(one.client_tool_calls) == 1


@pytest.mark.anyio
async def test_tool_handler_that_raises_sends_an_error_and_goes_on(kind: str, running: RunningLocalServer) -> None:
    def broken(arguments: dict[str, Any]) -> Any:
        raise RuntimeError("sensor offline")

    client = client_for(kind, running)
    try:
        chat = client.chat(client_tools={"read_sensor": broken})
        reply = await resolve(chat.send("tool:read_sensor {}"))
    finally:
        await close(client)
    assert reply.text.startswith("Tool read_sensor returned: {")
    assert '"error"' in reply.text and "sensor offline" in reply.text


@pytest.mark.anyio
async def test_pending_tool_call_then_add_tool_output(kind: str, running: RunningLocalServer) -> None:
    client = client_for(kind, running)
    try:
        chat = client.chat()
        pending = await resolve(chat.send('tool:lookup {"q": "x"}'))
        call = pending.pending_client_tool_call
        answer = await resolve(chat.add_tool_output({"found": True}))
    finally:
        await close(client)
    assert call is not None and call.name == "lookup" and call.arguments == {"q": "x"}
    assert pending.text == ""
    assert answer.text == 'Tool lookup returned: {"found":true}'
    assert answer.thread_id == pending.thread_id


# ------------------------------------------------------------------------------------------ threads


@pytest.mark.anyio
async def test_threads_pagination_get_rename_delete(kind: str, running: RunningLocalServer) -> None:
    client = client_for(kind, running)
    try:
        chat = client.chat()
        created = []
        for n in range(5):
            chat.new_thread()
            created.append((await resolve(chat.send(f"topic {n}"))).thread_id)
        page = await resolve(chat.threads(limit=2))
        assert len(page.data) == 2 and page.has_next_page()
        listed = [t.id for t in await collect(page)]
        asc = [t.id for t in await collect(await resolve(chat.threads(limit=2, order="asc")))]
        thread = await resolve(chat.get_thread(created[0]))
        renamed = await resolve(chat.rename("Renamed", thread_id=created[0]))
        again = await resolve(chat.get_thread(created[0]))
        assert chat.thread_id == created[-1]
        await resolve(chat.delete_thread())
        assert chat.thread_id is None
        with pytest.raises(InvalidInputError):
            await resolve(chat.rename("   "))
    finally:
        await close(client)
    assert listed == created[::-1]
    assert asc == created
    assert thread.id == created[0] and thread.title is not None and "topic 0" in thread.title
    assert renamed.title == "Renamed" and again.title == "Renamed"
    assert created[-1] not in running.store.thread_ids()
    assert len(running.store.thread_ids()) == 4


@pytest.mark.anyio
async def test_items_order_and_pagination(kind: str, running: RunningLocalServer) -> None:
    client = client_for(kind, running)
    try:
        chat = client.chat()
        await resolve(chat.send("one"))
        await resolve(chat.send("two"))
        page = await resolve(chat.items(limit=1))
        assert len(page.data) == 1 and page.has_next_page()
        items = await collect(page)
        newest_first = await collect(await resolve(chat.items(order="desc", limit=3)))
    finally:
        await close(client)
    ids = [i.id for i in items]
    assert ids == running.store.item_ids(chat.thread_id)
    assert len(ids) == 4
    assert [i.type for i in items] == ["user_message", "assistant_message"] * 2
    assert [i.id for i in newest_first] == ids[::-1]


@pytest.mark.anyio
async def test_feedback_is_recorded(kind: str, running: RunningLocalServer) -> None:
    client = client_for(kind, running)
    try:
        chat = client.chat()
        reply = await resolve(chat.send("rate me"))
        [message] = reply.assistant_messages
        await resolve(chat.feedback([message.id], "positive"))
        await resolve(chat.feedback(message.id, "negative"))
        with pytest.raises(InvalidInputError):
            await resolve(chat.feedback([message.id], "meh"))
    finally:
        await close(client)
    records = running.server.feedback
    assert [(r.thread_id, r.item_ids, r.kind) for r in records] == [
        (reply.thread_id, (message.id,), "positive"),
        (reply.thread_id, (message.id,), "negative"),
    ]


# -------------------------------------------------------------------------------------------- files


@pytest.mark.anyio
async def test_two_phase_upload_and_send_files(kind: str, running: RunningLocalServer, tmp_path: Path) -> None:
    path = tmp_path / "diagram.png"
    path.write_bytes(PNG)
    client = client_for(kind, running)
    try:
        chat = client.chat()
        uploaded = await resolve(chat.upload(path))
        first = await resolve(chat.send("with an upload", attachments=[uploaded.id]))
        second = await resolve(chat.send("inline", files=[("notes.pdf", b"%PDF-1.4 notes")]))
    finally:
        await close(client)
    assert running.store.read_attachment_bytes(uploaded.id) == PNG
    assert f"diagram.png (image/png, {len(PNG)} bytes)" in first.text
    assert second.user_message is not None
    [attachment] = second.user_message.attachments
    assert running.store.read_attachment_bytes(attachment.id) == b"%PDF-1.4 notes"
    assert "notes.pdf" in second.text


@pytest.mark.anyio
async def test_direct_upload_url(kind: str, running: RunningLocalServer) -> None:
    client = client_for(kind, running, upload_url=running.direct_upload_url)
    try:
        chat = client.chat()
        reply = await resolve(chat.send("direct", files=[("pic.png", PNG, "image/png")]))
    finally:
        await close(client)
    assert reply.user_message is not None
    [attachment] = reply.user_message.attachments
    assert attachment.name == "pic.png"
    assert running.store.read_attachment_bytes(attachment.id) == PNG
    assert f"pic.png (image/png, {len(PNG)} bytes)" in reply.text


# ------------------------------------------------------------------------------------------ headers


@pytest.mark.anyio
async def test_headers_dict_and_missing_header(kind: str) -> None:
    with serve_local_server(required_headers={"X-App-Token": "s3cret"}) as running:
        good = client_for(kind, running, headers={"X-App-Token": "s3cret"})
        bad = client_for(kind, running)
        try:
            reply = await resolve(good.chat().send("let me in"))
            with pytest.raises(AuthenticationError) as caught:
                await resolve(bad.chat().send("let me in"))
        finally:
            await close(good)
            await close(bad)
    assert reply.text == "You said: let me in"
    assert caught.value.status_code == 401


@pytest.mark.anyio
async def test_headers_callable_is_called_per_request(kind: str) -> None:
    tokens = itertools.count()
    issued: list[str] = []

    def rotating() -> dict[str, str]:
        issued.append(f"token-{next(tokens)}")
        # Only the first two tokens are accepted by the server below, so a cached header would still pass
        # and a rotated one must fail on the third request.
        return {"X-App-Token": "ok" if len(issued) <= 2 else issued[-1]}

    with serve_local_server(required_headers={"X-App-Token": "ok"}) as running:
        client = client_for(kind, running, headers=rotating)
        try:
            chat = client.chat()
            await resolve(chat.send("one"))
            await resolve(chat.send("two"))
            with pytest.raises(AuthenticationError):
                await resolve(chat.send("three"))
        finally:
            await close(client)
    assert len(issued) == 3


@pytest.mark.anyio
async def test_hosted_only_resources_raise_configuration_error(kind: str, running: RunningLocalServer) -> None:
    client = client_for(kind, running)
    try:
        with pytest.raises(ConfigurationError):
            await resolve(client.sessions.create(user="u", workflow="wf"))
        with pytest.raises(ConfigurationError):
            await resolve(client.threads.list())
        with pytest.raises(ConfigurationError):
            await resolve(client.files.upload(("a.png", PNG), client_secret="ek_x"))
    finally:
        await close(client)
    assert running.store.thread_ids() == []


@pytest.mark.anyio
async def test_an_event_over_max_event_size_raises_a_decode_error_naming_the_option(
    kind: str, running: RunningLocalServer
) -> None:
    client = client_for(kind, running, max_event_size=120)
    try:
        with pytest.raises(StreamDecodeError, match="max_event_size") as info:
            await resolve(client.chat().send("hello " * 40))
        assert info.value.reply is not None
    finally:
        await close(client)


@pytest.mark.anyio
async def test_upload_reports_progress_up_to_the_total(kind: str, running: RunningLocalServer) -> None:
    data = bytes(range(256)) * 1024  # 256 KiB: several 64 KiB reads
    seen: list[tuple[int, int | None]] = []
    client = client_for(kind, running)
    try:
        attachment = await resolve(
            client.chat().upload(("big.bin", data), on_progress=lambda sent, total: seen.append((sent, total)))
        )
    finally:
        await close(client)
    assert running.store.read_attachment_bytes(attachment.id) == data
    assert len(seen) >= 4 and seen[-1] == (len(data), len(data))
    assert [sent for sent, _ in seen] == sorted(sent for sent, _ in seen)


@pytest.mark.anyio
async def test_structured_input_is_answered_by_question_id(kind: str, running: RunningLocalServer) -> None:
    client = client_for(kind, running)
    try:
        chat = client.chat()
        asked = await resolve(chat.send("ask"))
        pending = [item for item in asked.items if item.type == "structured_input"]
        assert len(pending) == 1
        reply = await resolve(chat.add_structured_input(pending[0].id, {"color": "green"}))
        assert "You answered" in reply.text and "green" in reply.text
        with pytest.raises(InvalidInputError, match="answers"):
            await resolve(chat.add_structured_input(pending[0].id, {"color": 3}))  # type: ignore[dict-item]
    finally:
        await close(client)


@pytest.mark.anyio
async def test_sync_custom_action_returns_the_updated_widget(kind: str, running: RunningLocalServer) -> None:
    client = client_for(kind, running)
    try:
        chat = client.chat()
        widget = (await resolve(chat.send("widget"))).widgets[0]
        updated = await resolve(
            chat.sync_custom_action({"type": "counter.increment", "payload": {"count": 0}}, item_id=widget.id)
        )
        assert updated is not None and updated.id == widget.id
        assert "Count: 1" in repr(updated.widget)
    finally:
        await close(client)
