"""Careless input and secrets (issue 13, items 5, 7, 8, 9, 11 and 23), with ChatKit and AsyncChatKit.

Each case runs against a real server on loopback (the raw-socket `MisbehavingServer` with scenarios
registered here, the hosted-API emulator, or the local openai-chatkit server) and proves what was
sent: exact upload bytes, or no request at all when input is refused. For secrets, the secret must
appear nowhere: not in `str(err)`, `repr(err)`, `repr(client)`, the traceback chain, nor any log line
captured at DEBUG (ours, httpx2's and httpcore2's).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
import math
import os
import socket
import subprocess
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydantic
import pytest
from click.testing import CliRunner

from chatkit_client import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    AsyncChatKit,
    ChatKit,
    ChatKitError,
    ConfigurationError,
    InvalidInputError,
    Timeout,
)
from chatkit_client.cli._app import cli
from chatkit_client.testing import RunningEmulator, serve_emulator
from chatkit_client.types import ChatSession
from tests.helpers import close, make_client, resolve
from tests.reliability.misbehaving_server import (
    Conn,
    MisbehavingServer,
    Request,
    answer_normally,
    first_attempt,
    scenario,
    session_json,
)

SECRET_KEY = "sk-input-SECRET-key-0123456789"
URL_PASSWORD = "pw_SECRET_in_url_77"
URL_TOKEN = "tok_SECRET_in_query_88"
SHORT_SECRET = "ek_SHORTq9Z7x"
HEADER = b"name,amount\n"
ROWS = b"alice,1\nbob,2\ncarol,3\n"


# -- scenarios of this module ----------------------------------------------------------------------
@scenario("input_count")
async def _input_count(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    """Answers normally; tests count its requests to prove that refused input sent nothing."""
    await answer_normally(conn, req)


def _attachment(req: Request, server: MisbehavingServer) -> dict[str, Any]:
    params = (req.json or {}).get("params", {})
    return {
        "id": "att_input",
        "type": "file",
        "name": params.get("name", "data.csv"),
        "mime_type": params.get("mime_type", "text/csv"),
        "upload_descriptor": {"url": server.url("input_two_phase") + "/bytes", "method": "POST", "headers": {}},
    }


@scenario("input_two_phase")
async def _input_two_phase(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    """A self-hosted server's two-phase upload: `attachments.create`, then the bytes to the descriptor URL."""
    if req.path.endswith("/bytes"):
        await conn.respond("200 OK", json.dumps({"id": "att_input", "type": "file", "name": "data.csv"}).encode())
    else:
        await conn.respond("200 OK", json.dumps(_attachment(req, server)).encode())


@scenario("input_upload_503_once")
async def _input_upload_503_once(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    """Hosted `POST /chatkit/files`: 503 the first time, then the uploaded file."""
    if first_attempt(server, req):
        await conn.respond("503 Service Unavailable", b'{"error": {"message": "busy"}}', extra={"retry-after": "0"})
    else:
        body = {"id": "cfile_input", "object": "chatkit.file", "type": "file", "name": "data.csv"}
        await conn.respond("200 OK", json.dumps(body).encode())


@scenario("input_bad_session")
async def _input_bad_session(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    """A session answer without its `id`: pydantic would quote the whole object, secret included."""
    body = {"object": "chatkit.session", "client_secret": SHORT_SECRET, "expires_at": 4102444800}
    await conn.respond("200 OK", json.dumps(body).encode())


@scenario("input_bad_threads")
async def _input_bad_threads(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    await conn.respond("200 OK", b'{"object": "list", "data": [{"title": "no id"}], "has_more": false}')


@scenario("input_502")
async def _input_502(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    if req.is_session:
        await conn.respond("200 OK", session_json())
    else:
        await conn.respond("502 Bad Gateway", b'{"error": {"message": "bad gateway"}}')


@scenario("input_hang")
async def _input_hang(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    await server.stopping.wait()


@pytest.fixture(scope="module")
def server() -> Iterator[MisbehavingServer]:
    with MisbehavingServer() as running:
        yield running


@pytest.fixture(scope="module")
def hosted() -> Iterator[RunningEmulator]:
    with serve_emulator() as running:
        yield running


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _everything_shown(err: BaseException, client: object, caplog: pytest.LogCaptureFixture) -> str:
    chain = "".join(traceback.format_exception(err))
    return "\n".join([str(err), repr(err), chain, repr(client), caplog.text, str(getattr(err, "url", ""))])


def _assert_no_piece_of(secret: str, text: str) -> None:
    # pydantic shortens long inputs to their first and last characters: neither end may show.
    assert "input_value" not in text
    assert secret[:6] not in text and secret[-6:] not in text


def _multipart_file(req: Request) -> bytes:
    boundary = req.headers["content-type"].split("boundary=", 1)[1].strip('"').encode()
    part = req.body.split(b"\r\n\r\n", 1)[1]
    return part.rsplit(b"\r\n--" + boundary + b"--", 1)[0]


# -- item 5: a file object is uploaded from where it stands ----------------------------------------
@pytest.mark.anyio
@pytest.mark.parametrize("source", ["bytesio", "disk"])
async def test_hosted_upload_starts_at_the_file_position(
    kind: str, source: str, hosted: RunningEmulator, tmp_path: Path
) -> None:
    client = make_client(kind, api_key=hosted.api_key, base_url=hosted.base_url)
    session = await resolve(
        client.sessions.create(
            user="u_input", workflow="wf_input", chatkit_configuration={"file_upload": {"enabled": True}}
        )
    )
    path = tmp_path / "data.csv"
    path.write_bytes(HEADER + ROWS)
    handle: io.BufferedIOBase = io.BytesIO(HEADER + ROWS) if source == "bytesio" else open(path, "rb")  # noqa: SIM115
    try:
        assert handle.readline() == HEADER  # the caller skips the header line
        # The hosted API takes PDFs and images only; the bytes are what matter here.
        file = ("data.pdf", handle, "application/pdf")
        uploaded = await resolve(client.files.upload(file, client_secret=session.client_secret))
    finally:
        handle.close()
        await close(client)
    stored = hosted.emulator.files[uploaded.id]
    assert stored.size == len(ROWS)
    assert stored.sha256 == hashlib.sha256(ROWS).hexdigest()


@pytest.mark.anyio
async def test_hosted_upload_retry_resends_from_the_same_position(kind: str, server: MisbehavingServer) -> None:
    server.reset_log()
    client = make_client(kind, api_key="sk-test", base_url=server.url("input_upload_503_once") + "/v1", max_retries=1)
    handle = io.BytesIO(HEADER + ROWS)
    handle.readline()
    try:
        await resolve(client.files.upload(("data.csv", handle), client_secret="ek_test"))
    finally:
        await close(client)
    attempts = server.requests("input_upload_503_once")
    assert len(attempts) == 2
    assert [_multipart_file(req) for req in attempts] == [ROWS, ROWS]


@pytest.mark.anyio
@pytest.mark.parametrize("source", ["bytesio", "disk"])
async def test_self_hosted_upload_announces_exactly_what_it_sends(
    kind: str, source: str, server: MisbehavingServer, tmp_path: Path
) -> None:
    server.reset_log()
    client = make_client(kind, server_url=server.url("input_two_phase"))
    path = tmp_path / "data.csv"
    path.write_bytes(HEADER + ROWS)
    handle: io.BufferedIOBase = io.BytesIO(HEADER + ROWS) if source == "bytesio" else open(path, "rb")  # noqa: SIM115
    try:
        handle.readline()
        await resolve(client.chat().upload(("data.csv", handle)))
    finally:
        handle.close()
        await close(client)
    create, upload = server.requests("input_two_phase")
    assert create.json["type"] == "attachments.create"
    assert create.json["params"]["size"] == len(ROWS)
    assert _multipart_file(upload) == ROWS


# -- item 7: credentials and header values that cannot be sent -------------------------------------
BAD_VALUES = {
    "trailing_cr": SECRET_KEY + "\r",
    "trailing_lf": SECRET_KEY + "\n",
    "trailing_space": SECRET_KEY + " ",
    "control_char": SECRET_KEY[:6] + "\x1b" + SECRET_KEY[6:],
    "non_ascii": SECRET_KEY[:6] + "é" + SECRET_KEY[6:],
}


@pytest.mark.anyio
@pytest.mark.parametrize("value", list(BAD_VALUES.values()), ids=list(BAD_VALUES))
@pytest.mark.parametrize(
    ("argument", "field"),
    [
        ("api_key", "api_key"),
        ("organization", "organization"),
        ("project", "project"),
        ("default_headers", "default_headers['X-Trace']"),
        ("headers", "headers['Authorization']"),
    ],
)
async def test_a_bad_credential_is_refused_by_name_and_never_shown(
    kind: str, argument: str, field: str, value: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    kwargs: dict[str, Any] = {"api_key": "sk-fine", "base_url": "http://127.0.0.1:9/v1"}
    if argument == "default_headers":
        kwargs["default_headers"] = {"X-Trace": value}
    elif argument == "headers":
        kwargs = {"server_url": "http://127.0.0.1:9/chatkit", "headers": {"Authorization": f"Bearer {value}"}}
    else:
        kwargs[argument] = value
    with pytest.raises(InvalidInputError) as caught:
        make_client(kind, **kwargs)
    assert caught.value.field == field
    shown = _everything_shown(caught.value, None, caplog)
    assert SECRET_KEY not in shown and SECRET_KEY[6:] not in shown


@pytest.mark.anyio
@pytest.mark.parametrize("value", list(BAD_VALUES.values()), ids=list(BAD_VALUES))
async def test_a_bad_key_from_the_environment_is_refused_before_sending(
    kind: str, value: str, server: MisbehavingServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.reset_log()
    monkeypatch.setenv("OPENAI_API_KEY", value)
    client = make_client(kind, base_url=server.url("input_count") + "/v1", max_retries=2)
    try:
        with pytest.raises(InvalidInputError) as caught:
            await resolve(client.sessions.create(user="u_input", workflow="wf_input"))
    finally:
        await close(client)
    assert caught.value.field == "api_key"
    assert server.requests("input_count") == []  # refused, not sent and not retried
    assert SECRET_KEY[6:] not in _everything_shown(caught.value, client, caplog)


@pytest.mark.anyio
@pytest.mark.parametrize("value", list(BAD_VALUES.values()), ids=list(BAD_VALUES))
async def test_a_bad_client_secret_is_refused_before_sending(
    kind: str, value: str, server: MisbehavingServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.reset_log()
    client = make_client(kind, api_key="sk-test", base_url=server.url("input_count") + "/v1")
    try:
        with pytest.raises(InvalidInputError) as caught:
            await resolve(client.chat(client_secret=value).send("hello"))
    finally:
        await close(client)
    assert caught.value.field == "client_secret"
    assert server.requests("input_count") == []
    assert SECRET_KEY[6:] not in _everything_shown(caught.value, client, caplog)


@pytest.mark.anyio
async def test_callable_headers_are_checked_each_time(
    kind: str, server: MisbehavingServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.reset_log()
    tokens = iter([f"Bearer {SECRET_KEY}", f"Bearer {SECRET_KEY}\r\n"])
    client = make_client(
        kind, server_url=server.url("input_count"), headers=lambda: {"Authorization": next(tokens)}, max_retries=2
    )
    chat = client.chat()
    try:
        assert (await resolve(chat.send("one"))).text == "You said: one"
        with pytest.raises(InvalidInputError) as caught:
            await resolve(chat.send("two"))
    finally:
        await close(client)
    assert caught.value.field == "headers['Authorization']"
    assert len(server.requests("input_count")) == 1
    assert SECRET_KEY not in _everything_shown(caught.value, client, caplog)


def test_cli_error_line_for_a_bad_key_names_it_without_showing_it() -> None:
    port = _closed_port()
    args = ["--api-key", SECRET_KEY + "\r", "--base-url", f"http://127.0.0.1:{port}/v1", "threads", "list"]
    result = CliRunner().invoke(cli, args, env={"OPENAI_API_KEY": None})
    assert result.exit_code == 2  # refused before sending: a usage error, as everywhere in the CLI
    assert result.stderr.startswith("Error: api_key: contains a line break")
    assert SECRET_KEY[6:] not in result.output and "Traceback" not in result.output


# -- item 8: a session answer of an unexpected shape -----------------------------------------------
@pytest.mark.anyio
@pytest.mark.parametrize("how", ["sessions.create", "chat.send"])
async def test_a_malformed_session_answer_never_shows_its_secret(
    kind: str, how: str, server: MisbehavingServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client(kind, api_key="sk-test", base_url=server.url("input_bad_session") + "/v1", max_retries=0)
    try:
        with pytest.raises(APIResponseValidationError) as caught:
            if how == "sessions.create":
                await resolve(client.sessions.create(user="u_input", workflow="wf_input"))
            else:
                await resolve(client.chat(user="u_input", workflow="wf_input").send("hello"))
    finally:
        await close(client)
    assert "ChatSession" in str(caught.value) and "id" in str(caught.value)
    _assert_no_piece_of(SHORT_SECRET, _everything_shown(caught.value, client, caplog))
    _assert_no_piece_of(SHORT_SECRET, repr(caught.value.body))


def test_validating_a_session_yourself_never_quotes_its_secret() -> None:
    # Callers who keep sessions (a cache, a queue) validate them with pydantic directly.
    with pytest.raises(pydantic.ValidationError) as caught:
        ChatSession.model_validate({"client_secret": SHORT_SECRET, "expires_at": "soon"})
    _assert_no_piece_of(SHORT_SECRET, str(caught.value) + repr(caught.value))


@pytest.mark.anyio
async def test_a_malformed_thread_list_is_a_validation_error_without_inputs(
    kind: str, server: MisbehavingServer
) -> None:
    client = make_client(kind, api_key="sk-test", base_url=server.url("input_bad_threads") + "/v1", max_retries=0)
    try:
        with pytest.raises(APIResponseValidationError) as caught:
            await resolve(client.threads.list())
    finally:
        await close(client)
    assert "input_value" not in str(caught.value) and "no id" not in str(caught.value)


# -- item 9: credentials inside URLs ---------------------------------------------------------------
def _assert_redacted(text: str) -> None:
    assert URL_PASSWORD not in text
    assert URL_TOKEN not in text


def _secret_url(origin: str, path: str) -> str:
    host = origin.split("://", 1)[1]
    return f"http://user:{URL_PASSWORD}@{host}{path}?token={URL_TOKEN}"


@pytest.mark.anyio
async def test_url_credentials_stay_out_of_connection_errors_and_logs(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    port = _closed_port()
    client = make_client(kind, server_url=_secret_url(f"http://127.0.0.1:{port}", "/chatkit"), max_retries=1)
    try:
        with pytest.raises(APIConnectionError) as caught:
            await resolve(client.chat().send("hello"))
    finally:
        await close(client)
    shown = _everything_shown(caught.value, client, caplog)
    _assert_redacted(shown)
    assert f"127.0.0.1:{port}/chatkit?token=***" in str(caught.value)  # still says where it went


@pytest.mark.anyio
async def test_url_credentials_stay_out_of_status_errors_timeouts_and_reprs(
    kind: str, server: MisbehavingServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.reset_log()
    origin = server.url("input_502").rsplit("/", 1)[0]
    failing = make_client(kind, server_url=_secret_url(origin, "/input_502"), max_retries=1)
    hanging = make_client(kind, server_url=_secret_url(origin, "/input_hang"), timeout=0.5, max_retries=0)
    errors: list[BaseException] = []
    try:
        for client in (failing, hanging):
            with pytest.raises(ChatKitError) as caught:
                await resolve(client.chat().send("hello"))
            errors.append(caught.value)
        with pytest.raises(ConfigurationError) as wrong_mode:
            _ = failing.sessions
        errors.append(wrong_mode.value)
    finally:
        await close(failing)
        await close(hanging)
    assert isinstance(errors[0], APIStatusError) and errors[0].status_code == 502
    assert errors[0].url is not None and errors[0].url.endswith("/input_502?token=***")
    assert len(server.requests("input_hang")) == 1  # it reached the server: the text is about that request
    for err in errors:
        _assert_redacted(_everything_shown(err, failing, caplog))
    _assert_redacted(repr(hanging))


@pytest.mark.anyio
async def test_base_url_and_upload_url_credentials_are_redacted(
    kind: str, server: MisbehavingServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    origin = server.url("input_502").rsplit("/", 1)[0]
    host = origin.split("://", 1)[1]
    hosted = make_client(
        kind, api_key="sk-test", base_url=f"http://user:{URL_PASSWORD}@{host}/input_502/v1", max_retries=0
    )
    direct = make_client(
        kind, server_url=server.url("input_count"), upload_url=_secret_url(origin, "/input_502"), max_retries=0
    )
    errors: list[BaseException] = []
    try:
        with pytest.raises(APIStatusError) as caught:
            await resolve(hosted.threads.delete("cthr_1"))
        errors.append(caught.value)
        with pytest.raises(APIStatusError) as caught:
            await resolve(direct.chat().upload(("a.txt", b"abc")))
        errors.append(caught.value)
    finally:
        await close(hosted)
        await close(direct)
    for err in errors:
        _assert_redacted(_everything_shown(err, hosted, caplog))
    _assert_redacted(repr(hosted) + repr(direct))


def test_cli_error_line_redacts_url_credentials() -> None:
    port = _closed_port()
    url = _secret_url(f"http://127.0.0.1:{port}", "/chatkit")
    result = CliRunner().invoke(cli, ["--server-url", url, "send", "hello"], env={"OPENAI_API_KEY": None})
    assert result.exit_code == 1
    _assert_redacted(result.output)
    assert result.stderr.startswith("Error: ") and f"127.0.0.1:{port}/chatkit?token=***" in result.stderr
    assert "Traceback" not in result.output


# -- item 11: ids that are not ids -----------------------------------------------------------------
NOT_IDS = [".", "..", "", " ", "a/b", "../sessions", "a?b", "a#b", "a b", "cthr_1\n", "a\\b"]


@pytest.mark.anyio
@pytest.mark.parametrize("bad_id", NOT_IDS, ids=[repr(i) for i in NOT_IDS])
async def test_ids_that_are_not_ids_are_refused_before_any_request(
    kind: str, bad_id: str, hosted: RunningEmulator
) -> None:
    client = make_client(kind, api_key=hosted.api_key, base_url=hosted.base_url, max_retries=0)
    hosted.emulator.clear_requests()
    calls = {
        "thread_id": [
            lambda: client.threads.delete(bad_id),
            lambda: client.threads.retrieve(bad_id),
            lambda: client.threads.list_items(bad_id),
        ],
        "session_id": [lambda: client.sessions.cancel(bad_id)],
    }
    try:
        for field, makers in calls.items():
            for make in makers:
                with pytest.raises(InvalidInputError) as caught:
                    await resolve(make())
                assert caught.value.field == field
    finally:
        await close(client)
    assert hosted.emulator.requests == []


# -- item 23: bad input refused up front -----------------------------------------------------------
@pytest.mark.anyio
@pytest.mark.parametrize(
    ("field", "call"),
    [
        ("text", lambda chat: chat.send("hello \ud800")),
        ("quoted_text", lambda chat: chat.send("hello", quoted_text="quote \udc80")),
        ("title", lambda chat: chat.rename("title \ud83d", thread_id="thr_rel")),
        ("params.input.inference_options.model", lambda chat: chat.send("hello", model="gpt\udfff")),
    ],
    ids=["text", "quoted_text", "title", "model"],
)
async def test_lone_surrogates_are_refused_before_sending(
    kind: str, field: str, call: Any, server: MisbehavingServer
) -> None:
    server.reset_log()
    client = make_client(kind, server_url=server.url("input_count"))
    try:
        with pytest.raises(InvalidInputError) as caught:
            await resolve(call(client.chat()))
    finally:
        await close(client)
    assert caught.value.field == field
    assert "surrogate" in str(caught.value)
    assert server.requests("input_count") == []


@pytest.mark.anyio
async def test_lone_surrogate_in_a_session_argument_is_refused(kind: str, server: MisbehavingServer) -> None:
    server.reset_log()
    client = make_client(kind, api_key="sk-test", base_url=server.url("input_count") + "/v1")
    try:
        with pytest.raises(InvalidInputError) as caught:
            await resolve(client.sessions.create(user="user\ud800", workflow="wf_input"))
    finally:
        await close(client)
    assert caught.value.field == "user"
    assert server.requests("input_count") == []


@pytest.mark.anyio
async def test_bad_files_are_refused_with_what_they_are(kind: str, server: MisbehavingServer, tmp_path: Path) -> None:
    server.reset_log()
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    closed = io.BytesIO(b"data")
    closed.close()
    zero = open("/dev/zero", "rb")  # noqa: SIM115
    cases: list[tuple[object, str]] = [
        ("/dev/zero", "character device"),
        (str(fifo), "named pipe (FIFO)"),
        (str(tmp_path), "a directory"),
        (zero, "device"),
        (("notes.txt", closed), "closed"),
        (closed, "closed"),
        (("notes.txt", "some text"), "text.encode()"),
        (("caf\udce9.txt", b"data"), "not valid UTF-8"),
        (str(tmp_path / "missing.txt"), "does not exist"),
    ]
    client = make_client(kind, server_url=server.url("input_count"))
    chat = client.chat()
    try:
        for file, expected in cases:
            with pytest.raises(InvalidInputError) as caught:
                await resolve(chat.upload(file))  # type: ignore[arg-type]
            assert expected in str(caught.value), (file, str(caught.value))
            if expected != "does not exist":
                assert "does not exist" not in str(caught.value)
    finally:
        zero.close()
        await close(client)
    assert server.requests("input_count") == []


@pytest.mark.anyio
async def test_a_closed_file_and_a_str_tuple_are_refused_by_hosted_uploads(kind: str, hosted: RunningEmulator) -> None:
    client = make_client(kind, api_key=hosted.api_key, base_url=hosted.base_url)
    closed = io.BytesIO(b"data")
    closed.close()
    hosted.emulator.clear_requests()
    try:
        for file in (("notes.txt", closed), ("notes.txt", "some text")):
            with pytest.raises(InvalidInputError, match=r"^file: "):
                await resolve(client.files.upload(file, client_secret="ek_input"))  # type: ignore[arg-type]
    finally:
        await close(client)
    assert hosted.emulator.requests == []


def test_cli_upload_of_a_name_that_is_not_utf8_is_one_error_line(server: MisbehavingServer, tmp_path: Path) -> None:
    server.reset_log()
    path = os.path.join(os.fsencode(tmp_path), b"caf\xe9.txt")
    with open(path, "wb") as handle:
        handle.write(b"hello")
    chatkit = os.path.join(os.path.dirname(sys.executable), "chatkit")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CHATKIT_"))}
    done = subprocess.run(
        [chatkit, "--server-url", server.url("input_count"), "upload", path],
        capture_output=True,
        timeout=60,
        env=env,
    )
    assert done.returncode in (1, 2)
    lines = done.stderr.decode("utf-8").strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), lines
    assert "not valid UTF-8" in lines[0]
    assert server.requests("input_count") == []


BAD_OPTIONS: list[tuple[dict[str, Any], str]] = [
    ({"timeout": -1}, "timeout"),
    ({"timeout": 0}, "timeout"),
    ({"timeout": math.nan}, "timeout"),
    ({"timeout": math.inf}, "timeout"),
    ({"timeout": Timeout(5, connect=-1)}, "timeout.connect"),
    ({"max_retries": -1}, "max_retries"),
    ({"server_url": "http://"}, "server_url"),
    ({"server_url": "127.0.0.1:8000/chatkit"}, "server_url"),
    ({"server_url": "http://127.0.0.1:8000/chatkit#frag"}, "server_url"),
    ({"server_url": "http://127.0.0.1:8000/chat kit"}, "server_url"),
    ({"base_url": "api.openai.com/v1"}, "base_url"),
    ({"base_url": "https:///v1"}, "base_url"),
    ({"base_url": "https://example.com/v1?api-version=2025-01-01"}, "base_url"),
    ({"base_url": "https://example.com/v1#frag"}, "base_url"),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("options", "field"), BAD_OPTIONS, ids=[f"{o}" for o, _ in BAD_OPTIONS])
async def test_bad_client_options_are_refused_at_construction(kind: str, options: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        make_client(kind, api_key="sk-test", **options)
    assert caught.value.field == field


@pytest.mark.anyio
async def test_with_options_refuses_a_negative_timeout(kind: str) -> None:
    client = make_client(kind, api_key="sk-test")
    try:
        with pytest.raises(InvalidInputError, match=r"^timeout: "):
            client.with_options(timeout=-1)
    finally:
        await close(client)


class _TargetRecordingServer(MisbehavingServer):
    """Also keeps each request line's target, query included (the base server keeps the path only)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.targets: list[str] = []

    async def _read_request(self, reader: asyncio.StreamReader) -> Request | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        self.targets.append(head.split(b" ", 2)[1].decode("latin-1"))
        length = next(
            (
                int(line.split(b":", 1)[1])
                for line in head.lower().split(b"\r\n")
                if line.startswith(b"content-length:")
            ),
            0,
        )
        # Hand the whole request to the base parser.
        replay = asyncio.StreamReader()
        replay.feed_data(head + await reader.readexactly(length))
        replay.feed_eof()
        return await super()._read_request(replay)


@pytest.mark.anyio
async def test_a_server_url_query_is_kept_on_every_request(kind: str) -> None:
    # server_url is one endpoint, so its query (a tenant, a token) is part of it; base_url gets paths
    # appended, so a query there is refused (above) rather than silently sent to the wrong URL.
    with _TargetRecordingServer() as recording:
        client = make_client(kind, server_url=recording.url("input_count") + "?tenant=t1&v=2")
        chat = client.chat()
        try:
            await resolve(chat.send("one"))
            await resolve(chat.send("two"))
        finally:
            await close(client)
        assert recording.targets == ["/input_count?tenant=t1&v=2"] * 2


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["self_hosted", "hosted"])
async def test_a_closed_client_raises_a_chatkit_error(kind: str, mode: str, server: MisbehavingServer) -> None:
    server.reset_log()
    if mode == "self_hosted":
        client = make_client(kind, server_url=server.url("input_count"))
    else:
        client = make_client(kind, api_key="sk-test", base_url=server.url("input_count") + "/v1")
    copy = client.with_options(max_retries=0)
    await close(client)
    for target in (client, copy):
        with pytest.raises(ConfigurationError, match="closed"):
            if mode == "self_hosted":
                await resolve(target.chat().send("hello"))
            else:
                await resolve(target.sessions.create(user="u_input", workflow="wf_input"))
    assert server.requests("input_count") == []


@pytest.mark.anyio
async def test_an_async_client_closed_by_its_context_raises_a_chatkit_error(server: MisbehavingServer) -> None:
    async with AsyncChatKit(server_url=server.url("input_count")) as client:
        chat = client.chat()
    with pytest.raises(ConfigurationError, match="closed"):
        await chat.send("hello")
    with ChatKit(server_url=server.url("input_count")) as sync_client:
        sync_chat = sync_client.chat()
    with pytest.raises(ConfigurationError, match="closed"):
        sync_chat.send("hello")
