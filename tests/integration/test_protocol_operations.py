"""The rest of the protocol (issue 8), both clients against the real openai-chatkit server on loopback:
`input.transcribe`, `attachments.delete`, structured input as typed items, `stream_options.allow_cancel` with
an early close the server sees, async pages, and thread export."""

from __future__ import annotations

import asyncio
import time
import warnings
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from chatkit_client import APIStatusError, AsyncPage, InvalidInputError
from chatkit_client.testing import RunningLocalServer, serve_local_server
from chatkit_client.testing._memory_store import RequestContext
from chatkit_client.types import (
    AssistantMessageContentPartTextDelta,
    StructuredInputItem,
    ThreadItemUpdatedEvent,
    ThreadMetadata,
    UserMessageItem,
)
from tests.helpers import close, collect, make_client, resolve

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from chatkit import types as sdk


@pytest.fixture
def running() -> Iterator[RunningLocalServer]:
    with serve_local_server() as served:
        yield served


def client_for(kind: str, running: RunningLocalServer, **kwargs: Any) -> Any:
    return make_client(kind, server_url=running.url, timeout=10, **kwargs)


# ------------------------------------------------------------------------------------------ transcribe


@pytest.mark.anyio
async def test_transcribe_sends_the_audio_and_returns_the_text(
    kind: str, running: RunningLocalServer, tmp_path: Path
) -> None:
    clip = tmp_path / "question.webm"
    clip.write_bytes(b"\x1a\x45\xdf\xa3" + b"\x00" * 96)
    client = client_for(kind, running)
    try:
        chat = client.chat()
        from_bytes = await resolve(chat.transcribe(b"0123456789", mime_type="audio/webm;codecs=opus"))
        from_path = await resolve(chat.transcribe(clip))
        with clip.open("rb") as handle:
            from_file = await resolve(chat.transcribe(handle, mime_type="audio/ogg"))
        with pytest.raises(InvalidInputError, match="mime_type"):
            await resolve(chat.transcribe(b"raw bytes"))
        with pytest.raises(InvalidInputError, match="audio"):
            await resolve(chat.transcribe(b"", mime_type="audio/wav"))
    finally:
        await close(client)
    # The local server answers "Transcribed N bytes of MEDIA_TYPE": the bytes and type arrived intact.
    assert from_bytes == "Transcribed 10 bytes of audio/webm"
    assert from_path == "Transcribed 100 bytes of audio/webm"
    assert from_file == "Transcribed 100 bytes of audio/ogg"
    assert chat.thread_id is None  # transcription adds nothing to a thread


# ----------------------------------------------------------------------------------- attachments.delete


@pytest.mark.anyio
async def test_delete_attachment_removes_it_from_the_server(kind: str, running: RunningLocalServer) -> None:
    client = client_for(kind, running)
    try:
        chat = client.chat()
        kept = await resolve(chat.upload(("kept.txt", b"keep me")))
        dropped = await resolve(chat.upload(("dropped.txt", b"drop me")))
        assert running.store.has_bytes(dropped.id)
        await resolve(chat.delete_attachment(dropped.id))
        with pytest.raises(InvalidInputError, match="attachment_id"):
            await resolve(chat.delete_attachment(""))
        # A message naming the deleted attachment is refused; the kept one still works.
        with pytest.raises(APIStatusError) as refused:
            await resolve(chat.send("with the deleted file", attachments=[dropped.id]))
        reply = await resolve(chat.send("with the kept file", attachments=[kept.id]))
    finally:
        await close(client)
    assert not running.store.has_bytes(dropped.id)
    assert running.store.declared_size(dropped.id) is None
    assert refused.value.status_code == 404
    assert "kept.txt" in reply.text


# ------------------------------------------------------------------------------------ structured input


@pytest.mark.anyio
async def test_structured_input_is_typed_and_pending_until_answered(kind: str, running: RunningLocalServer) -> None:
    client = client_for(kind, running)
    try:
        chat = client.chat()
        asked = await resolve(chat.send("survey"))
        item = asked.pending_structured_input
        assert isinstance(item, StructuredInputItem)
        assert item.status == "pending"
        colors, name = item.inputs
        assert (colors.type, colors.id, colors.multiple) == ("multiple_choice", "colors", True)
        assert [option.value for option in colors.options] == ["red", "green", "blue"]
        assert (name.type, name.id, name.description) == ("freeform", "name", "Any name will do.")
        answered = await resolve(chat.add_structured_input(item.id, {"colors": ["red", "blue"], "name": "Ada"}))
        stored = await collect(chat.items())
    finally:
        await close(client)
    assert asked.pending_client_tool_call is None
    assert answered.text == "You answered: red, blue; Ada"
    assert answered.pending_structured_input is None
    (after,) = [entry for entry in stored if isinstance(entry, StructuredInputItem)]
    assert after.status == "answered"
    assert after.inputs[0].answer is not None and after.inputs[0].answer.values == ["red", "blue"]


# ------------------------------------------------------------------------- allow_cancel and early close


@pytest.mark.anyio
async def test_closing_a_stream_early_cancels_the_answer_on_the_server(kind: str, running: RunningLocalServer) -> None:
    client = client_for(kind, running)
    deltas = 0
    try:
        chat = client.chat()
        stream = chat.stream("slow 400")
        assert stream.allow_cancel is None  # nothing read yet
        if kind == "sync":
            with stream:
                for event in stream:
                    if isinstance(event, ThreadItemUpdatedEvent) and isinstance(
                        event.update, AssistantMessageContentPartTextDelta
                    ):
                        deltas += 1
                        if deltas == 3:
                            break
        else:
            async with stream:
                async for event in stream:
                    if isinstance(event, ThreadItemUpdatedEvent) and isinstance(
                        event.update, AssistantMessageContentPartTextDelta
                    ):
                        deltas += 1
                        if deltas == 3:
                            break
        allow_cancel = stream.allow_cancel
        partial = stream.reply.text
        thread_id = chat.thread_id
        # The server learns of the close asynchronously; give it a bounded while.
        deadline = time.monotonic() + 10
        while thread_id not in running.server.cancelled and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert thread_id is not None
        stored = running.store.item_ids(thread_id)
        followup = await resolve(chat.send("hello again"))
        assert chat.thread_id == thread_id  # the stopped turn's thread continues
    finally:
        await close(client)
    assert allow_cancel is True
    assert partial == "w0 w1 w2 "
    assert running.server.cancelled == [thread_id]
    # openai-chatkit stored what was streamed so far and a note that the user cancelled, then stopped.
    assert any(item_id.startswith("shcx_") for item_id in stored)
    assert followup.text == "You said: hello again"


# ------------------------------------------------------------------------------------------ async pages


@pytest.mark.anyio
async def test_async_list_methods_are_awaitable_and_async_iterable(running: RunningLocalServer) -> None:
    client = make_client("async", server_url=running.url, timeout=10)
    try:
        chat = client.chat()
        for text in ("one", "two", "three"):
            chat.new_thread()
            await chat.send(text)
        walked = [thread.id async for thread in chat.threads(limit=2)]  # across two pages
        first = await chat.threads(limit=2)
        items = [item async for item in chat.items(limit=1)]
        pages = [page async for page in chat.items(limit=1).iter_pages()]
    finally:
        await close(client)
    assert walked == running.store.thread_ids()[::-1]
    assert isinstance(first, AsyncPage) and len(first.data) == 2 and first.has_more
    assert [item.id for item in items] == running.store.item_ids(chat.thread_id)
    assert [len(page.data) for page in pages] == [1] * len(items)
    assert isinstance(items[0], UserMessageItem)


# ----------------------------------------------------------------------------------------- thread export

# 150 threads: two pages of `threads.list` at the export's page size of 100. The 1,000-thread export of the issue
# runs once, through the CLI (tests/cli/test_cli_protocol.py), to keep the suite's time in bounds.
THREADS, ITEMS_PER_THREAD = 150, 20


async def seed(running: RunningLocalServer, threads: int, items_per_thread: int) -> dict[str, list[tuple[str, str]]]:
    """Write threads straight into the server's store (20,000 turns would take minutes); returns
    thread id -> [(item id, text)] oldest first."""
    store = running.store
    context = RequestContext()
    start = datetime(2026, 1, 1)
    expected: dict[str, list[tuple[str, str]]] = {}
    for t in range(threads):
        thread = sdk.ThreadMetadata(id=f"thr_{t:05d}", title=f"Thread {t}", created_at=start + timedelta(seconds=t))
        await store.save_thread(thread, context)
        entries = []
        for i in range(items_per_thread):
            item_id, text = f"itm_{t:05d}_{i:02d}", f"message {i} of thread {t} — ünïcode"
            created = start + timedelta(seconds=t, milliseconds=i)
            if i % 2 == 0:
                item: Any = sdk.UserMessageItem(
                    id=item_id,
                    thread_id=thread.id,
                    created_at=created,
                    content=[sdk.UserMessageTextContent(text=text)],
                    attachments=[],
                    inference_options=sdk.InferenceOptions(),
                )
            else:
                item = sdk.AssistantMessageItem(
                    id=item_id,
                    thread_id=thread.id,
                    created_at=created,
                    content=[sdk.AssistantMessageContent(text=text, annotations=[])],
                )
            await store.add_thread_item(thread.id, item, context)
            entries.append((item_id, text))
        expected[thread.id] = entries
    return expected


def check_export(records: list[dict[str, Any]], expected: dict[str, list[tuple[str, str]]]) -> None:
    assert sorted(record["id"] for record in records) == sorted(expected)
    for record in records:
        items = record["items"]
        assert [(item["id"], item["content"][0]["text"]) for item in items] == expected[record["id"]]
        assert [item["type"] for item in items] == ["user_message", "assistant_message"] * (len(items) // 2)
        assert record["title"] == f"Thread {int(record['id'][4:])}"
        assert ThreadMetadata.model_validate(record).id == record["id"]


@pytest.mark.anyio
async def test_export_walks_every_thread_and_item_and_checks_ids_first(kind: str, running: RunningLocalServer) -> None:
    expected = await seed(running, THREADS, ITEMS_PER_THREAD)
    client = client_for(kind, running)
    try:
        records = await collect(client.chat().export_threads())
        chosen = await collect(client.chat().export_threads(["thr_00007", "thr_00149"]))
        with pytest.raises(InvalidInputError, match="thread_ids"):
            client.chat().export_threads("thr_00007")
    finally:
        await close(client)
    assert len(records) == THREADS
    assert sum(len(record["items"]) for record in records) == THREADS * ITEMS_PER_THREAD
    check_export(records, expected)
    assert [record["id"] for record in chosen] == ["thr_00007", "thr_00149"]
    check_export(chosen, {key: expected[key] for key in ("thr_00007", "thr_00149")})


@pytest.mark.anyio
async def test_admin_api_export_and_async_pages_on_the_hosted_emulator(kind: str) -> None:
    from chatkit_client.testing import serve_dev

    with serve_dev() as dev:
        client = make_client(kind, api_key=dev.api_key, base_url=dev.base_url, timeout=10)
        try:
            chat = client.chat(user="user_export", workflow="wf_demo")
            first = await resolve(chat.send("first thread"))
            chat.new_thread()
            second = await resolve(chat.send("second thread"))
            records = await collect(client.threads.export(user="user_export"))
            chosen = await collect(client.threads.export([first.thread_id]))
            # Both list shapes of the admin API walk across pages with `limit=1`.
            listed = [thread.id for thread in await collect(client.threads.list(user="user_export", limit=1))]
            items = await collect(client.threads.list_items(first.thread_id, limit=1, order="asc"))
            with pytest.raises(InvalidInputError, match=r"thread_ids\[0\]"):
                client.threads.export([""])
        finally:
            await close(client)
    assert {record["id"] for record in records} == {first.thread_id, second.thread_id}
    assert [record["id"] for record in chosen] == [first.thread_id]
    texts = [item["content"][0]["text"] for item in chosen[0]["items"] if item.get("content")]
    assert texts == ["first thread", "You said: first thread"]
    assert sorted(listed) == sorted([first.thread_id, second.thread_id])
    assert [item.id for item in items] == [item["id"] for item in chosen[0]["items"]]


@pytest.mark.anyio
async def test_closing_a_finished_stream_leaves_the_chat_state_alone(kind: str, running: RunningLocalServer) -> None:
    client = client_for(kind, running)
    try:
        chat = client.chat()
        stream = chat.stream("first")
        await resolve(stream.get_final_reply())
        chat.new_thread()  # the user moves on before leaving the `with` block
        await resolve(stream.close())
    finally:
        await close(client)
    assert chat.thread_id is None
