"""The hosted REST resources (`sessions`, `threads`, `files`) of both clients against the emulator on loopback."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chatkit_client import (
    AuthenticationError,
    BadRequestError,
    InvalidInputError,
    NotFoundError,
    RateLimitError,
)
from chatkit_client.testing import RunningEmulator, serve_emulator
from tests.helpers import close, collect, make_client, resolve

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40  # 10 KiB; the emulator checks the type, not the pixels


@pytest.fixture
def running() -> Iterator[RunningEmulator]:
    with serve_emulator() as served:
        yield served


def client_for(kind: str, running: RunningEmulator, **kwargs: Any) -> Any:
    options: dict[str, Any] = {"api_key": running.api_key, "base_url": running.base_url, "timeout": 10}
    options.update(kwargs)
    return make_client(kind, **options)


def paths(running: RunningEmulator) -> list[str]:
    return [r.path for r in running.emulator.requests]


# ------------------------------------------------------------------------------------------ sessions


@pytest.mark.anyio
async def test_sessions_create_sends_exact_body_and_headers(kind: str, running: RunningEmulator) -> None:
    client = client_for(kind, running, organization="org_123", project="proj_456")
    try:
        session = await resolve(
            client.sessions.create(
                user="user_1",
                workflow={"id": "wf_abc", "version": "3", "state_variables": {"plan": "pro"}},
                chatkit_configuration={"file_upload": {"enabled": True, "max_files": 3}},
                expires_after={"anchor": "created_at", "seconds": 120},
                rate_limits={"max_requests_per_1_minute": 30},
            )
        )
    finally:
        await close(client)
    [request] = running.emulator.requests
    assert (request.method, request.path) == ("POST", "/v1/chatkit/sessions")
    assert request.json == {
        "user": "user_1",
        "workflow": {"id": "wf_abc", "version": "3", "state_variables": {"plan": "pro"}},
        "chatkit_configuration": {"file_upload": {"enabled": True, "max_files": 3}},
        "expires_after": {"anchor": "created_at", "seconds": 120},
        "rate_limits": {"max_requests_per_1_minute": 30},
    }
    assert request.headers["authorization"] == f"Bearer {running.api_key}"
    assert "chatkit_beta=v1" in request.headers["openai-beta"]
    assert request.headers["openai-organization"] == "org_123"
    assert request.headers["openai-project"] == "proj_456"
    assert session.client_secret.startswith("ek_")
    assert session.user == "user_1"
    assert session.workflow is not None and session.workflow.id == "wf_abc"
    assert session.id in running.emulator.sessions
    # The secret is a credential: it must not leak through the model's repr.
    assert session.client_secret not in repr(session)


@pytest.mark.anyio
async def test_cancelled_session_secret_is_rejected(kind: str, running: RunningEmulator) -> None:
    client = client_for(kind, running)
    try:
        session = await resolve(client.sessions.create(user="u", workflow="wf_abc"))
        cancelled = await resolve(client.sessions.cancel(session.id))
        assert cancelled.id == session.id
        assert running.emulator.sessions[session.id].status == "cancelled"
        with pytest.raises(AuthenticationError) as caught:
            await resolve(client.files.upload(("a.png", PNG, "image/png"), client_secret=session.client_secret))
    finally:
        await close(client)
    assert caught.value.status_code == 401
    assert session.client_secret not in str(caught.value)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c: c.sessions.create(user="", workflow="wf_abc"), "user"),
        (lambda c: c.sessions.create(user="u", workflow=""), "workflow"),
        (lambda c: c.sessions.create(user="u", workflow="wf", expires_after={"anchor": "now", "seconds": 5}), None),
        (lambda c: c.sessions.create(user="u", workflow="wf", rate_limits={"max_requests_per_1_minute": -1}), None),
        (lambda c: c.sessions.cancel(""), "session_id"),
        (lambda c: c.threads.retrieve(""), "thread_id"),
        (lambda c: c.threads.list(limit=0), "limit"),
        (lambda c: c.threads.list(order="sideways"), "order"),
        (lambda c: c.threads.list_items("cthr_1", limit=1000), "limit"),
    ],
)
async def test_client_side_validation_sends_nothing(
    kind: str, running: RunningEmulator, call: Any, field: str | None
) -> None:
    client = client_for(kind, running)
    try:
        with pytest.raises(InvalidInputError) as caught:
            await resolve(call(client))
    finally:
        await close(client)
    assert isinstance(caught.value, ValueError)
    if field is not None:
        assert caught.value.field is not None and field in caught.value.field
    assert running.emulator.requests == []


@pytest.mark.anyio
async def test_upload_validation_sends_nothing(kind: str, running: RunningEmulator, tmp_path: Path) -> None:
    client = client_for(kind, running)
    try:
        with pytest.raises(InvalidInputError):
            await resolve(client.files.upload(tmp_path / "missing.png", client_secret="ek_test_x"))
        with pytest.raises(InvalidInputError):
            await resolve(client.files.upload(("a.png", PNG), client_secret=" "))
    finally:
        await close(client)
    assert running.emulator.requests == []


# ------------------------------------------------------------------------------------------- threads


async def make_threads(kind: str, running: RunningEmulator, user: str, count: int) -> list[str]:
    """Create `count` threads for `user` through Chat (the only way threads come to exist)."""
    client = client_for(kind, running)
    ids: list[str] = []
    try:
        chat = client.chat(user=user, workflow="wf_abc")
        for index in range(count):
            chat.new_thread()
            reply = await resolve(chat.send(f"thread {index}"))
            ids.append(reply.thread_id)
    finally:
        await close(client)
    return ids


@pytest.mark.anyio
async def test_threads_list_paginates_across_pages(kind: str, running: RunningEmulator) -> None:
    created = await make_threads(kind, running, "user_pages", 5)
    await make_threads(kind, running, "someone_else", 1)
    client = client_for(kind, running)
    try:
        running.emulator.clear_requests()
        page = await resolve(client.threads.list(user="user_pages", limit=2, order="asc"))
        assert len(page.data) == 2 and page.has_next_page()
        listed = [t.id for t in await collect(page)]
        first_desc = await resolve(client.threads.list(user="user_pages", limit=2))
    finally:
        await close(client)
    assert listed == created
    list_calls = [r for r in running.emulator.requests if r.path == "/v1/chatkit/threads"]
    assert len(list_calls) == 4  # 3 pages asc (2 + 2 + 1) and one desc
    assert list_calls[0].query == {"user": "user_pages", "limit": "2", "order": "asc"}
    assert list_calls[1].query["after"] == created[1]
    assert [t.id for t in first_desc.data] == created[::-1][:2]


@pytest.mark.anyio
async def test_threads_retrieve_list_items_delete(kind: str, running: RunningEmulator) -> None:
    [thread_id] = await make_threads(kind, running, "user_items", 1)
    client = client_for(kind, running)
    try:
        thread = await resolve(client.threads.retrieve(thread_id))
        assert thread.id == thread_id
        assert thread.user == "user_items"
        assert thread.title == "thread 0"
        page = await resolve(client.threads.list_items(thread_id, limit=1, order="asc"))
        assert len(page.data) == 1 and page.has_next_page()
        items = await collect(page)
        types = [item.type for item in items]
        assert types[0] == "chatkit.user_message" or types[0].endswith("user_message")
        assert len(items) == len(running.emulator.threads[thread_id].items)
        assert len({item.id for item in items}) == len(items)
        deleted = await resolve(client.threads.delete(thread_id))
        assert deleted.id == thread_id and deleted.deleted
        with pytest.raises(NotFoundError) as caught:
            await resolve(client.threads.retrieve(thread_id))
    finally:
        await close(client)
    err = caught.value
    assert err.status_code == 404
    assert err.request_id is not None and err.request_id.startswith("req_")
    assert err.request_id == running.emulator.requests[-1].request_id
    assert thread_id not in running.emulator.threads


@pytest.mark.anyio
async def test_wrong_api_key_gives_authentication_error_fields(kind: str, running: RunningEmulator) -> None:
    client = client_for(kind, running, api_key="sk-wrong-key-123456")
    try:
        with pytest.raises(AuthenticationError) as caught:
            await resolve(client.threads.list())
    finally:
        await close(client)
    err = caught.value
    assert err.status_code == 401
    assert err.code == "invalid_api_key"
    assert err.request_id is not None and err.request_id.startswith("req_")
    assert "sk-wrong-key-123456" not in str(err) and "sk-wrong-key-123456" not in repr(err)
    assert len(running.emulator.requests) == 1  # 401 is not retried


# --------------------------------------------------------------------------------------------- files


async def new_secret(kind: str, running: RunningEmulator, **config: Any) -> str:
    client = client_for(kind, running)
    try:
        # Hosted sessions have uploads off unless the configuration turns them on.
        configuration = config or {"file_upload": {"enabled": True}}
        session = await resolve(
            client.sessions.create(user="uploader", workflow="wf_abc", chatkit_configuration=configuration)
        )
    finally:
        await close(client)
    running.emulator.clear_requests()
    return str(session.client_secret)


@pytest.mark.anyio
async def test_files_upload_every_input_shape(kind: str, running: RunningEmulator, tmp_path: Path) -> None:
    secret = await new_secret(kind, running)
    path = tmp_path / "picture.png"
    path.write_bytes(PNG)
    client = client_for(kind, running)
    try:
        from_path = await resolve(client.files.upload(path, client_secret=secret))
        from_tuple = await resolve(client.files.upload(("doc.pdf", b"%PDF-1.4 tiny"), client_secret=secret))
        with path.open("rb") as handle:
            from_handle = await resolve(client.files.upload(handle, client_secret=secret))
    finally:
        await close(client)
    files = running.emulator.files
    assert (from_path.name, from_path.type, from_path.mime_type) == ("picture.png", "image", "image/png")
    assert files[from_path.id].size == len(PNG)
    assert (from_tuple.name, from_tuple.type, from_tuple.mime_type) == ("doc.pdf", "file", "application/pdf")
    assert files[from_tuple.id].size == len(b"%PDF-1.4 tiny")
    assert from_handle.name == "picture.png" and files[from_handle.id].size == len(PNG)
    assert files[from_path.id].sha256 == files[from_handle.id].sha256
    uploads = running.emulator.requests
    assert [r.path for r in uploads] == ["/v1/chatkit/files"] * 3
    assert all(r.headers["authorization"] == f"Bearer {secret}" for r in uploads)
    assert all(r.headers["content-type"].startswith("multipart/form-data") for r in uploads)


@pytest.mark.anyio
async def test_files_upload_reports_progress(kind: str, running: RunningEmulator) -> None:
    secret = await new_secret(kind, running)
    seen: list[tuple[int, int | None]] = []
    client = client_for(kind, running)
    data = PNG * 20  # 200 KiB: several reads
    try:
        uploaded = await resolve(
            client.files.upload(
                ("big.png", data, "image/png"), client_secret=secret, on_progress=lambda n, t: seen.append((n, t))
            )
        )
    finally:
        await close(client)
    assert running.emulator.files[uploaded.id].size == len(data)
    sent = [n for n, _ in seen]
    assert len(sent) >= 2
    assert sent == sorted(sent) and len(set(sent)) == len(sent)
    assert seen[-1] == (len(data), len(data))


@pytest.mark.anyio
async def test_files_upload_rejections(kind: str, running: RunningEmulator) -> None:
    disabled = await new_secret(kind, running, file_upload={"enabled": False})
    enabled = await new_secret(kind, running)
    client = client_for(kind, running)
    try:
        with pytest.raises(BadRequestError) as off:
            await resolve(client.files.upload(("a.png", PNG, "image/png"), client_secret=disabled))
        with pytest.raises(BadRequestError) as wrong_type:
            await resolve(client.files.upload(("notes.txt", io.BytesIO(b"plain")), client_secret=enabled))
    finally:
        await close(client)
    assert off.value.status_code == 400 and off.value.code == "chatkit.file_upload_disabled"
    assert wrong_type.value.code == "chatkit.file_upload_type_rejected"
    assert wrong_type.value.param == "file"
    assert running.emulator.files == {}
    assert len(running.emulator.requests) == 2  # a 400 is final


# ------------------------------------------------------------------------------------------- retries


@pytest.mark.anyio
async def test_injected_500_is_retried_then_succeeds(kind: str, running: RunningEmulator) -> None:
    running.emulator.fail_next(500, path="/chatkit/sessions")
    client = client_for(kind, running)
    try:
        session = await resolve(client.sessions.create(user="u", workflow="wf_abc"))
    finally:
        await close(client)
    assert paths(running) == ["/v1/chatkit/sessions"] * 2
    assert list(running.emulator.sessions) == [session.id]
    first, second = running.emulator.requests
    assert first.json == second.json


@pytest.mark.anyio
async def test_500_exhausts_retries(kind: str, running: RunningEmulator) -> None:
    running.emulator.fail_next(503, path="/chatkit/threads", times=5)
    client = client_for(kind, running, max_retries=1)
    try:
        with pytest.raises(Exception) as caught:
            await resolve(client.threads.list())
    finally:
        await close(client)
    assert getattr(caught.value, "status_code", None) == 503
    assert len(running.emulator.requests) == 2


@pytest.mark.anyio
async def test_429_retry_after_is_honoured(kind: str, running: RunningEmulator) -> None:
    running.emulator.fail_next(429, path="/chatkit/threads", headers={"retry-after": "0"})
    client = client_for(kind, running)
    try:
        page = await resolve(client.threads.list())
        assert page.data == []
        # A wait longer than the client accepts stops the retries instead of stalling the caller.
        running.emulator.clear_requests()
        running.emulator.fail_next(429, path="/chatkit/threads", headers={"retry-after": "3600"})
        with pytest.raises(RateLimitError) as caught:
            await resolve(client.threads.list())
    finally:
        await close(client)
    assert caught.value.status_code == 429
    assert caught.value.code == "rate_limit_exceeded"
    assert len(running.emulator.requests) == 1
