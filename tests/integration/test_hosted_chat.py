"""The hosted Chat flow of both clients against the emulator: sessions, renewal, files, streams and tools."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from chatkit_client import (
    AuthenticationError,
    InvalidInputError,
    StreamError,
    StreamInterruptedError,
)
from chatkit_client.testing import RunningEmulator, serve_emulator
from chatkit_client.types import ErrorEvent
from tests.helpers import close, drain, make_client, resolve

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 2048
UPLOADS_ON = {"file_upload": {"enabled": True}}
CONVERSATION = "/v1/chatkit/conversation"
SESSIONS = "/v1/chatkit/sessions"


@pytest.fixture
def running() -> Iterator[RunningEmulator]:
    with serve_emulator() as served:
        yield served


def client_for(kind: str, running: RunningEmulator, **kwargs: Any) -> Any:
    options: dict[str, Any] = {"api_key": running.api_key, "base_url": running.base_url, "timeout": 10}
    options.update(kwargs)
    return make_client(kind, **options)


def requests_to(running: RunningEmulator, path: str) -> list[Any]:
    return [r for r in running.emulator.requests if r.path == path]


def conversation_types(running: RunningEmulator) -> list[str]:
    return [r.json["type"] for r in requests_to(running, CONVERSATION)]


def wait_until_expired(expires_at: int) -> None:
    # The client renews when less than a tenth of the lifetime is left; being past expiry is certainly inside
    # that margin, so waiting for it makes the renewal deterministic (no race with the margin's edge).
    while time.time() < expires_at + 0.05:
        time.sleep(0.05)


# ------------------------------------------------------------------------------------------- turns


@pytest.mark.anyio
async def test_two_turns_on_one_thread_with_exact_bodies(kind: str, running: RunningEmulator) -> None:
    client = client_for(kind, running)
    try:
        chat = client.chat(user="user_1", workflow="wf_abc")
        first = await resolve(chat.send("Hello there friend"))
        second = await resolve(chat.send("And again", quoted_text="there", model="gpt-test"))
    finally:
        await close(client)
    assert first.text == "You said: Hello there friend"
    assert second.text == "You said: And again"
    assert first.thread_id is not None and second.thread_id == first.thread_id == chat.thread_id
    assert first.thread is not None and first.thread.title == "Hello there friend"
    assert first.user_message is not None
    assert [r.path for r in running.emulator.requests] == [SESSIONS, CONVERSATION, CONVERSATION]
    create, add = (r.json for r in requests_to(running, CONVERSATION))
    assert create["type"] == "threads.create"
    assert create["params"] == {
        "input": {
            "content": [{"type": "input_text", "text": "Hello there friend"}],
            "attachments": [],
            "inference_options": {},
        }
    }
    assert add["type"] == "threads.add_user_message"
    assert add["params"]["thread_id"] == first.thread_id
    assert add["params"]["input"]["content"] == [{"type": "input_text", "text": "And again"}]
    assert add["params"]["input"]["attachments"] == []
    assert add["params"]["input"]["quoted_text"] == "there"
    assert add["params"]["input"]["inference_options"]["model"] == "gpt-test"
    session_request = running.emulator.requests[0]
    assert session_request.json["user"] == "user_1" and session_request.json["workflow"] == {"id": "wf_abc"}
    secret = chat.session.client_secret
    assert all(r.headers["authorization"] == f"Bearer {secret}" for r in requests_to(running, CONVERSATION))
    stored = running.emulator.threads[first.thread_id]
    assert stored.user == "user_1"


@pytest.mark.anyio
async def test_send_with_files_uploads_then_references(kind: str, running: RunningEmulator) -> None:
    client = client_for(kind, running)
    try:
        chat = client.chat(user="u", workflow="wf_abc", chatkit_configuration=UPLOADS_ON)
        reply = await resolve(chat.send("see these", files=[("one.png", PNG, "image/png"), ("two.pdf", b"%PDF-1.4 x")]))
    finally:
        await close(client)
    assert [r.path for r in running.emulator.requests] == [
        SESSIONS,
        "/v1/chatkit/files",
        "/v1/chatkit/files",
        CONVERSATION,
    ]
    files = running.emulator.files
    by_name = {info.name: info for info in files.values()}
    assert set(by_name) == {"one.png", "two.pdf"}
    assert by_name["one.png"].size == len(PNG)
    sent = requests_to(running, CONVERSATION)[0].json["params"]["input"]["attachments"]
    assert sent == [by_name["one.png"].id, by_name["two.pdf"].id]
    assert reply.text == "You said: see these [attachments: one.png, two.pdf]"
    assert reply.user_message is not None
    assert [a.id for a in reply.user_message.attachments] == sent


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("configuration", "files"),
    [
        ({"file_upload": {"enabled": False}}, [("a.png", PNG, "image/png")]),
        ({"file_upload": {"enabled": True, "max_file_size": 1}}, [("big.png", b"\x00" * (1024 * 1024 + 1))]),
        ({"file_upload": {"enabled": True, "max_files": 2}}, [(f"{n}.png", PNG) for n in range(3)]),
    ],
    ids=["disabled", "too-large", "too-many"],
)
async def test_pre_upload_checks_send_nothing(
    kind: str, running: RunningEmulator, configuration: dict[str, Any], files: list[Any]
) -> None:
    client = client_for(kind, running)
    try:
        chat = client.chat(user="u", workflow="wf_abc", chatkit_configuration=configuration)
        with pytest.raises(InvalidInputError) as caught:
            await resolve(chat.send("hi", files=files))
    finally:
        await close(client)
    assert caught.value.field is not None and "file" in caught.value.field
    # Only the session (needed to read its upload limits) was created: no upload, no message.
    assert [r.path for r in running.emulator.requests] == [SESSIONS]
    assert running.emulator.files == {}


# ----------------------------------------------------------------------------------------- renewal


@pytest.mark.anyio
async def test_renewal_after_401_once_on_same_thread(kind: str, running: RunningEmulator) -> None:
    client = client_for(kind, running)
    try:
        chat = client.chat(user="u", workflow="wf_abc")
        first = await resolve(chat.send("one"))
        old_secret = chat.session.client_secret
        running.emulator.revoke_all()
        second = await resolve(chat.send("two"))
        new_secret = chat.session.client_secret
    finally:
        await close(client)
    assert second.text == "You said: two"
    assert second.thread_id == first.thread_id
    assert new_secret != old_secret
    assert [r.path for r in running.emulator.requests] == [SESSIONS, CONVERSATION, CONVERSATION, SESSIONS, CONVERSATION]
    failed, retried = requests_to(running, CONVERSATION)[1:]
    assert failed.headers["authorization"] == f"Bearer {old_secret}"
    assert retried.headers["authorization"] == f"Bearer {new_secret}"
    assert failed.json == retried.json  # the same message, sent again only because it was refused


@pytest.mark.anyio
async def test_renewal_is_attempted_once_then_raises(kind: str, running: RunningEmulator) -> None:
    client = client_for(kind, running)
    try:
        chat = client.chat(user="u", workflow="wf_abc")
        await resolve(chat.send("one"))
        running.emulator.revoke_all()
        # Every conversation call is refused, including the one with the renewed secret.
        running.emulator.fail_next(401, path="/chatkit/conversation", times=5)
        with pytest.raises(AuthenticationError):
            await resolve(chat.send("two"))
    finally:
        await close(client)
    assert len(requests_to(running, SESSIONS)) == 2
    assert len(requests_to(running, CONVERSATION)) == 3


@pytest.mark.anyio
async def test_expiry_renews_once_for_concurrent_senders(kind: str, running: RunningEmulator) -> None:
    client = client_for(kind, running)
    try:
        chat = client.chat(user="u", workflow="wf_abc", expires_after={"anchor": "created_at", "seconds": 2})
        first = await resolve(chat.send("start"))
        old_session = chat.session
        wait_until_expired(old_session.expires_at)
        running.emulator.clear_requests()
        texts = [f"message {n}" for n in range(8)]
        if kind == "sync":
            replies: list[Any] = [None] * 8
            barrier = threading.Barrier(8)

            def worker(index: int) -> None:
                barrier.wait()
                replies[index] = chat.send(texts[index])

            workers = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
            for thread in workers:
                thread.start()
            for thread in workers:
                thread.join(timeout=30)
        else:
            replies = list(await asyncio.gather(*(chat.send(text) for text in texts)))
    finally:
        await close(client)
    assert sorted(r.text for r in replies) == sorted(f"You said: {t}" for t in texts)
    assert {r.thread_id for r in replies} == {first.thread_id}
    # Renewed before sending (the secret had expired), exactly once, with no request refused on the way.
    assert len(requests_to(running, SESSIONS)) == 1
    conversation = requests_to(running, CONVERSATION)
    assert len(conversation) == 8
    new_secret = chat.session.client_secret
    assert new_secret != old_session.client_secret
    assert all(r.headers["authorization"] == f"Bearer {new_secret}" for r in conversation)


@pytest.mark.anyio
async def test_concurrent_401s_renew_once(kind: str, running: RunningEmulator) -> None:
    client = client_for(kind, running)
    try:
        chat = client.chat(user="u", workflow="wf_abc")
        await resolve(chat.send("start"))
        running.emulator.revoke_all()
        running.emulator.clear_requests()
        if kind == "sync":
            errors: list[BaseException] = []
            barrier = threading.Barrier(8)

            def worker(index: int) -> None:
                barrier.wait()
                try:
                    chat.send(f"m{index}")
                except BaseException as exc:  # reported below, a thread cannot raise into the test
                    errors.append(exc)

            workers = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
            for thread in workers:
                thread.start()
            for thread in workers:
                thread.join(timeout=30)
            assert errors == []
        else:
            await asyncio.gather(*(chat.send(f"m{n}") for n in range(8)))
    finally:
        await close(client)
    assert len(requests_to(running, SESSIONS)) == 1
    assert len(running.emulator.threads) == 1


@pytest.mark.anyio
async def test_client_secret_chat_does_not_renew(kind: str, running: RunningEmulator) -> None:
    client = client_for(kind, running)
    try:
        session = await resolve(client.sessions.create(user="u", workflow="wf_abc"))
        running.emulator.revoke(session.client_secret)
        running.emulator.clear_requests()
        chat = client.chat(client_secret=session.client_secret)
        with pytest.raises(AuthenticationError) as caught:
            await resolve(chat.send("hello"))
    finally:
        await close(client)
    assert caught.value.status_code == 401
    assert [r.path for r in running.emulator.requests] == [CONVERSATION]
    assert session.client_secret not in str(caught.value)


# ----------------------------------------------------------------------------------------- streams


@pytest.mark.anyio
async def test_stream_error_event(kind: str, running: RunningEmulator) -> None:
    client = client_for(kind, running)
    try:
        chat = client.chat(user="u", workflow="wf_abc")
        running.emulator.set_stream_faults(error_after_events=3, error={"code": "custom", "message": "boom"})
        with pytest.raises(StreamError) as caught:
            await resolve(chat.send("first"))
        running.emulator.set_stream_faults(error_after_events=3)
        events, ended = await drain(chat.stream("second"))
    finally:
        await close(client)
    err = caught.value
    assert err.code == "custom" and err.error_message == "boom" and err.allow_retry is True
    assert err.reply is not None
    assert err.reply.thread_id is not None
    assert err.reply.user_message is not None
    assert len(events) == 4 and isinstance(events[-1], ErrorEvent)
    assert isinstance(ended, StreamError) and ended.code == "stream.error"


@pytest.mark.anyio
async def test_dropped_connection_keeps_partial_and_does_not_resend(kind: str, running: RunningEmulator) -> None:
    client = client_for(kind, running)
    try:
        chat = client.chat(user="u", workflow="wf_abc")
        running.emulator.set_stream_faults(drop_after_events=5)
        with pytest.raises(StreamInterruptedError) as caught:
            await resolve(chat.send("a message that will not finish streaming"))
    finally:
        await close(client)
    partial = caught.value.reply
    assert partial is not None
    assert partial.thread_id is not None
    assert partial.user_message is not None
    assert len(partial.items) >= 2  # the user message and the workflow item arrived before the break
    assert partial.text != "You said: a message that will not finish streaming"
    # A message is never sent twice: the server may have stored it already.
    assert len(requests_to(running, CONVERSATION)) == 1


@pytest.mark.anyio
async def test_byte_chunks_give_the_same_reply(kind: str, running: RunningEmulator) -> None:
    client = client_for(kind, running)
    text = "Ünïcödé ✓ splits — across bytes"
    try:
        chat = client.chat(user="u", workflow="wf_abc")
        whole = await resolve(chat.send(text))
        running.emulator.set_stream_faults(byte_chunks=True)
        chunked = await resolve(chat.send(text))
    finally:
        await close(client)
    assert chunked.text == whole.text == f"You said: {text}"
    assert [type(i).__name__ for i in chunked.items] == [type(i).__name__ for i in whole.items]


# ------------------------------------------------------------------------------------------- tools


@pytest.mark.anyio
async def test_client_tool_round(kind: str, running: RunningEmulator) -> None:
    calls: list[dict[str, Any]] = []

    def get_weather(arguments: dict[str, Any]) -> dict[str, Any]:
        calls.append(arguments)
        return {"forecast": "sunny", "city": arguments["city"]}

    client = client_for(kind, running)
    try:
        chat = client.chat(user="u", workflow="wf_abc", client_tools={"get_weather": get_weather})
        reply = await resolve(chat.send('tool:get_weather {"city": "Paris"}'))
    finally:
        await close(client)
    assert calls == [{"city": "Paris"}]
    assert reply.text == 'Tool get_weather returned: {"forecast": "sunny", "city": "Paris"}'
    assert conversation_types(running) == ["threads.create", "threads.add_client_tool_output"]
    output = requests_to(running, CONVERSATION)[1].json["params"]
    assert output == {"thread_id": reply.thread_id, "result": {"forecast": "sunny", "city": "Paris"}}
    assert reply.pending_client_tool_call is None


# --------------------------------------------------------------------------------------- seed parity


@pytest.mark.anyio
async def test_create_session_then_send_message_continues_one_thread(kind: str, running: RunningEmulator) -> None:
    client = client_for(kind, running)
    try:
        session = await resolve(client.create_session(user_id="user_9", workflow_id="wf_abc"))
        first = await resolve(client.send_message(text="Hello, how are you?"))
        second = await resolve(client.send_message(text="Still there?"))
    finally:
        await close(client)
    assert first.text == "You said: Hello, how are you?"
    assert second.text == "You said: Still there?"
    assert second.thread_id == first.thread_id
    assert conversation_types(running) == ["threads.create", "threads.add_user_message"]
    assert len(requests_to(running, SESSIONS)) == 1
    assert all(
        r.headers["authorization"] == f"Bearer {session.client_secret}" for r in requests_to(running, CONVERSATION)
    )


@pytest.mark.anyio
async def test_client_secret_chat_and_direct_upload(kind: str, running: RunningEmulator) -> None:
    client = client_for(kind, running)
    try:
        session = await resolve(client.sessions.create(user="u", workflow="wf_abc", chatkit_configuration=UPLOADS_ON))
        reply = await resolve(client.chat(client_secret=session.client_secret).send("Hello!"))
        uploaded = await resolve(client.files.upload(("x.png", PNG), client_secret=session.client_secret))
    finally:
        await close(client)
    assert reply.text == "You said: Hello!"
    assert running.emulator.files[uploaded.id].session_id == session.id
    assert len(requests_to(running, SESSIONS)) == 1
