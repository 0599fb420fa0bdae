"""Issue 13 items 1, 2, 3, 6, 13, 18 and 22 and issue 8's wrong endpoint, against raw sockets, for both clients.

Each test plays one scenario of `scenarios_transport.py` and checks what the server saw (how many
requests, which bytes) as well as what the caller got: nothing sent twice that the server may have
acted on, no answer handed to the wrong request, no unbounded read, no call outliving its total timeout.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from chatkit_client import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    InternalServerError,
    InvalidInputError,
    NotFoundError,
    ResponseTooLargeError,
    StreamInterruptedError,
)
from chatkit_client._core.retry import BODY_NOTE, SENT_NOTE
from tests.helpers import close, make_client, resolve
from tests.reliability.faults import API_KEY, PARTIAL_TEXT, TEXT
from tests.reliability.misbehaving_server import CLIENT_SECRET, THREAD_ID
from tests.reliability.scenarios_transport import TransportServer, uploaded_file

Operation = Callable[[Any], Any]


@pytest.fixture(scope="module")
def server() -> Iterator[TransportServer]:
    with TransportServer() as running:
        yield running


@pytest.fixture(autouse=True)
def fresh_log(server: TransportServer) -> None:
    server.reset_log()


def self_hosted(kind: str, server: TransportServer, name: str, **options: Any) -> Any:
    client = make_client(kind, server_url=server.url(name), **options)
    client._transport.random = lambda: 1.0  # the shortest backoff, so retried cases stay quick
    return client


def pipe_with(data: bytes) -> io.BufferedReader:
    """A binary stream that cannot be rewound: the read end of a pipe already holding `data` (under 64 KiB)."""
    read_end, write_end = os.pipe()
    os.write(write_end, data)
    os.close(write_end)
    return os.fdopen(read_end, "rb")


# -- item 1: a body that cannot be replayed is never resent ----------------------------------------


class ReadOnlyStream:
    """A generator-backed stream with `read` alone, like a socket or an HTTP download being passed on."""

    def __init__(self, data: bytes) -> None:
        self._pieces = iter([data[i : i + 1000] for i in range(0, len(data), 1000)])

    def read(self, size: int = -1) -> bytes:
        return next(self._pieces, b"")

    def close(self) -> None:
        pass

    def __enter__(self) -> ReadOnlyStream:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


@pytest.mark.anyio
@pytest.mark.parametrize("source", ["pipe", "read-only object"])
async def test_an_upload_from_a_drained_stream_is_not_resent_as_an_empty_file(
    kind: str, server: TransportServer, source: str
) -> None:
    # The server answers the first upload 503. Before the fix the retry sent the drained stream: 0 bytes,
    # and the upload "succeeded" with an empty file.
    name = "t_upload_503_once"
    client = self_hosted(kind, server, name, upload_url=server.url(name), max_retries=2)
    data = b"x" * 5000
    with pipe_with(data) if source == "pipe" else ReadOnlyStream(data) as stream:
        with pytest.raises(InternalServerError) as caught:
            await resolve(client.chat().upload(("data.bin", stream)))
    await close(client)
    assert caught.value.status_code == 503
    assert BODY_NOTE in str(caught.value)
    assert len(server.requests(name)) == 1
    assert uploaded_file(server.requests(name)[0]) == data


@pytest.mark.anyio
async def test_a_hosted_upload_from_a_drained_stream_is_not_resent(kind: str, server: TransportServer) -> None:
    name = "t_upload_503_once"
    client = make_client(kind, api_key=API_KEY, base_url=server.url(name) + "/v1", max_retries=2)
    with pytest.raises(InternalServerError) as caught:
        await resolve(client.files.upload(("data.bin", ReadOnlyStream(b"z" * 3000)), client_secret=CLIENT_SECRET))
    await close(client)
    assert BODY_NOTE in str(caught.value)
    assert len(server.requests(name)) == 1


@pytest.mark.anyio
async def test_a_stream_of_unknown_size_is_uploaded_whole(kind: str, server: TransportServer) -> None:
    client = self_hosted(kind, server, "t_upload_ok", upload_url=server.url("t_upload_ok"))
    with pipe_with(b"y" * 60_000) as stream:
        attachment = await resolve(client.chat().upload(("data.bin", stream)))
    await close(client)
    assert attachment.id == "att_60000"
    assert uploaded_file(server.requests("t_upload_ok")[0]) == b"y" * 60_000


@pytest.mark.anyio
async def test_a_seekable_upload_is_rewound_and_resent_whole(kind: str, server: TransportServer) -> None:
    name = "t_upload_503_once"
    data = bytes(range(256)) * 300
    client = self_hosted(kind, server, name, upload_url=server.url(name), max_retries=2)
    attachment = await resolve(client.chat().upload(("data.bin", io.BytesIO(data))))
    await close(client)
    assert attachment.id == f"att_{len(data)}"
    assert [uploaded_file(req) for req in server.requests(name)] == [data, data]


# -- item 2: a request that went out is not resent after a read timeout ------------------------------


@pytest.mark.anyio
async def test_a_message_the_server_is_working_on_is_not_resent_after_a_read_timeout(
    kind: str, server: TransportServer
) -> None:
    client = self_hosted(kind, server, "t_slow_answer", timeout=0.3, max_retries=2)
    with pytest.raises(APITimeoutError) as caught:
        await resolve(client.chat().send(TEXT))
    await close(client)
    assert SENT_NOTE in str(caught.value)
    assert len(server.requests("t_slow_answer")) == 1


@pytest.mark.anyio
async def test_a_protocol_read_is_resent_after_a_read_timeout(kind: str, server: TransportServer) -> None:
    client = self_hosted(kind, server, "t_slow_answer", timeout=0.3, max_retries=1)
    with pytest.raises(APITimeoutError):
        await resolve(client.chat().get_thread(THREAD_ID))
    await close(client)
    assert len(server.requests("t_slow_answer")) == 2


@pytest.mark.anyio
async def test_a_message_answered_504_by_a_gateway_is_not_resent(kind: str, server: TransportServer) -> None:
    client = self_hosted(kind, server, "t_gateway_504", max_retries=2)
    with pytest.raises(InternalServerError) as caught:
        await resolve(client.chat().send(TEXT))
    await close(client)
    assert caught.value.status_code == 504 and "may have acted on it" in str(caught.value)
    assert len(server.requests("t_gateway_504")) == 1


# -- item 3: every protocol request that changes something follows the rule of messages -------------

CHANGES: dict[str, Operation] = {
    "sync_custom_action": lambda chat: chat.sync_custom_action({"type": "confirm_purchase", "payload": {}}),
    "custom_action": lambda chat: chat.custom_action({"type": "confirm_purchase", "payload": {}}),
    "feedback": lambda chat: chat.feedback(["msg_asst"], "positive"),
    "delete_thread": lambda chat: chat.delete_thread(),
    "rename": lambda chat: chat.rename("Purchases"),
    "attachments.create": lambda chat: chat.upload(("notes.txt", b"hello")),
    "message": lambda chat: chat.send(TEXT),
}


@pytest.mark.anyio
@pytest.mark.parametrize("operation", list(CHANGES), ids=list(CHANGES))
async def test_a_request_that_changes_something_is_not_resent_after_the_connection_drops(
    kind: str, server: TransportServer, operation: str
) -> None:
    name = "t_drop_after_request"
    client = self_hosted(kind, server, name, max_retries=2)
    with pytest.raises((APIConnectionError, StreamInterruptedError)) as caught:
        await resolve(CHANGES[operation](client.chat(thread_id=THREAD_ID)))
    await close(client)
    assert "not sent again" in str(caught.value)
    assert len(server.requests(name)) == 1


@pytest.mark.anyio
async def test_a_protocol_read_is_resent_after_the_connection_drops(kind: str, server: TransportServer) -> None:
    client = self_hosted(kind, server, "t_drop_after_request", max_retries=2)
    with pytest.raises(APIConnectionError):
        await resolve(client.chat().get_thread(THREAD_ID))
    await close(client)
    assert len(server.requests("t_drop_after_request")) == 3


# -- item 6: stray bytes after an answer never become the next answer -------------------------------


@pytest.mark.anyio
async def test_stray_bytes_after_an_answer_are_not_read_as_the_next_answer(kind: str, server: TransportServer) -> None:
    client = self_hosted(kind, server, "t_stray_bytes")
    chat = client.chat()
    first = await resolve(chat.get_thread("thr_a"))
    second = await resolve(chat.get_thread("thr_b"))
    await close(client)
    assert [first.id, second.id] == ["thr_1", "thr_2"]  # not "thr_stale"
    assert len(server.requests("t_stray_bytes")) == 2


@pytest.mark.anyio
async def test_stray_bytes_after_a_streamed_answer_are_not_read_as_the_next_answer(
    kind: str, server: TransportServer
) -> None:
    client = self_hosted(kind, server, "t_stray_bytes")
    chat = client.chat()
    reply = await resolve(chat.send(TEXT))
    thread = await resolve(chat.get_thread())
    await close(client)
    assert reply.text == f"You said: {TEXT}"
    assert thread.id == "thr_2"
    assert len(server.requests("t_stray_bytes")) == 2


# -- item 13: a non-streamed answer is read up to a limit --------------------------------------------


@pytest.mark.anyio
async def test_a_gzip_bomb_is_not_inflated_past_max_response_size(kind: str, server: TransportServer) -> None:
    client = self_hosted(kind, server, "t_gzip_bomb", max_response_size=1_000_000, max_retries=2)
    with pytest.raises(ResponseTooLargeError) as caught:
        await resolve(client.chat().threads())
    await close(client)
    assert caught.value.limit == 1_000_000
    assert "max_response_size" in str(caught.value) and "1000000" in str(caught.value)
    assert len(server.requests("t_gzip_bomb")) == 1  # not worth another attempt


@pytest.mark.anyio
async def test_a_hosted_gzip_bomb_is_not_inflated_past_max_response_size(kind: str, server: TransportServer) -> None:
    client = make_client(kind, api_key=API_KEY, base_url=server.url("t_gzip_bomb") + "/v1", max_response_size=1_000_000)
    with pytest.raises(ResponseTooLargeError):
        await resolve(client.threads.list(user="user_rel"))
    await close(client)


# -- item 18: a total timeout per request and per streamed answer -------------------------------------


@pytest.mark.anyio
async def test_a_dripping_answer_ends_at_the_total_timeout(kind: str, server: TransportServer) -> None:
    # Every byte arrives well within the 2 s read timeout, so only a total timeout can end this.
    client = self_hosted(kind, server, "t_drip_head", timeout=2, total_timeout=0.5)
    with pytest.raises(APITimeoutError) as caught:
        await resolve(client.chat().get_thread(THREAD_ID))
    await close(client)
    assert "total_timeout of 0.5 s" in str(caught.value)
    assert server.finished["t_drip_head"] is False  # the client hung up long before the drip ended
    assert len(server.requests("t_drip_head")) == 1


@pytest.mark.anyio
async def test_a_dripping_session_create_ends_at_the_total_timeout_of_with_options(
    kind: str, server: TransportServer
) -> None:
    client = make_client(kind, api_key=API_KEY, base_url=server.url("t_drip_head") + "/v1", timeout=2)
    with pytest.raises(APITimeoutError) as caught:
        await resolve(client.with_options(total_timeout=0.5).sessions.create(user="user_rel", workflow="wf_rel"))
    await close(client)
    assert "total_timeout" in str(caught.value)
    assert server.finished["t_drip_head"] is False


@pytest.mark.anyio
async def test_a_streamed_turn_ends_at_the_total_timeout_and_keeps_what_arrived(
    kind: str, server: TransportServer
) -> None:
    client = self_hosted(kind, server, "t_drip_events", timeout=2, total_timeout=0.8)
    with pytest.raises(StreamInterruptedError) as caught:
        await resolve(client.chat().send(TEXT))
    await close(client)
    assert "total_timeout of 0.8 s" in str(caught.value)
    assert isinstance(caught.value.__cause__, APITimeoutError)
    reply = caught.value.reply
    assert reply is not None and reply.text == PARTIAL_TEXT and len(reply.progress) >= 1
    assert server.finished["t_drip_events"] is False


# -- item 22: a file that changes size during its upload ----------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("change", ["grows", "shrinks"])
async def test_a_file_that_changes_size_during_upload_is_a_clear_error_and_not_resent(
    kind: str, server: TransportServer, tmp_path: Path, change: str
) -> None:
    path = tmp_path / "growing.log"
    path.write_bytes(b"a" * 300_000)
    changed = False

    def on_progress(sent: int, total: int | None) -> None:
        nonlocal changed
        if not changed:
            changed = True
            if change == "grows":
                with path.open("ab") as handle:
                    handle.write(b"b" * 100_000)
            else:
                os.truncate(path, 100_000)

    client = self_hosted(kind, server, "t_upload_ok", upload_url=server.url("t_upload_ok"), max_retries=2)
    with pytest.raises(InvalidInputError) as caught:
        await resolve(client.chat().upload(path, on_progress=on_progress))
    await close(client)
    assert "changed size while it was being uploaded" in str(caught.value)
    assert caught.value.field == "file"
    assert server.heads_for("t_upload_ok") == 1


# -- issue 8: a 404 or 405 names the URL and the setting to check ----------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("name", ["t_not_found", "t_method_not_allowed"])
async def test_a_wrong_server_url_path_names_the_url_and_the_setting(
    kind: str, server: TransportServer, name: str
) -> None:
    url = server.url(name) + "/chat"
    client = make_client(kind, server_url=url, max_retries=2)
    with pytest.raises(APIStatusError) as caught:
        await resolve(client.chat().send(TEXT))
    await close(client)
    message = str(caught.value)
    assert url in message and "server_url" in message and "/chatkit" in message
    assert len(server.requests(name)) == 1


@pytest.mark.anyio
async def test_the_hosted_api_root_given_as_server_url_says_to_use_api_key(kind: str, server: TransportServer) -> None:
    client = make_client(kind, server_url=server.url("t_not_found") + "/v1")
    with pytest.raises(NotFoundError) as caught:
        await resolve(client.chat().send(TEXT))
    await close(client)
    assert "api_key=" in str(caught.value) and "/v1" in str(caught.value)


@pytest.mark.anyio
async def test_a_wrong_hosted_base_url_names_base_url(kind: str, server: TransportServer) -> None:
    client = make_client(kind, api_key=API_KEY, base_url=server.url("t_not_found"))
    with pytest.raises(NotFoundError) as caught:
        await resolve(client.chat(client_secret=CLIENT_SECRET).send(TEXT))
    await close(client)
    assert "base_url" in str(caught.value) and "/chatkit/conversation" in str(caught.value)


def test_the_cli_names_the_url_and_the_option_to_check_on_a_404(server: TransportServer) -> None:
    from click.testing import CliRunner

    from chatkit_client.cli._app import cli

    url = server.url("t_not_found") + "/chat"
    result = CliRunner().invoke(cli, ["--server-url", url, "send", TEXT], env={"CHATKIT_SERVER_URL": None})
    assert result.exit_code == 1
    assert url in result.output and "--server-url" in result.output and "Traceback" not in result.output
