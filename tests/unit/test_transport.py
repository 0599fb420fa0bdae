"""Transport behaviour through httpx2's MockTransport: retries, error translation, headers, secrets."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import httpx2
import pytest

from chatkit_client import (
    APIConnectionError,
    APITimeoutError,
    AsyncChatKit,
    AuthenticationError,
    BadRequestError,
    ChatKit,
    ConfigurationError,
    InternalServerError,
    RateLimitError,
)
from tests.helpers import close, resolve

API_KEY = "sk-proj-SECRETSECRETSECRET1234567890"
SESSION = {
    "id": "cksess_1",
    "object": "chatkit.session",
    "client_secret": "ek_SECRETSECRETSECRET_00e30=",
    "expires_at": 4102444800,
    "status": "active",
    "user": "u1",
    "workflow": {"id": "wf_1", "version": None, "state_variables": None, "tracing": {"enabled": True}},
}

Handler = Callable[[httpx2.Request], httpx2.Response]


def make(kind: str, handler: Handler, **kwargs: object) -> ChatKit | AsyncChatKit:
    if kind == "sync":
        client: ChatKit | AsyncChatKit = ChatKit(
            api_key=API_KEY,
            base_url="http://test/v1",
            http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
            **kwargs,  # type: ignore[arg-type]
        )
    else:
        client = AsyncChatKit(
            api_key=API_KEY,
            base_url="http://test/v1",
            http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler)),
            **kwargs,  # type: ignore[arg-type]
        )
    # Largest jitter: the shortest waits, so retry tests stay quick.
    client._transport.random = lambda: 1.0
    return client


def error_body(message: str, code: str | None = None, type_: str = "invalid_request_error") -> bytes:
    return json.dumps({"error": {"message": message, "type": type_, "param": None, "code": code}}).encode()


@pytest.mark.anyio
async def test_headers_and_body_of_a_session_create(kind: str) -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json=SESSION, headers={"x-request-id": "req_1"})

    client = make(kind, handler, organization="org_1", project="proj_1")
    session = await resolve(client.sessions.create(user="u1", workflow="wf_1"))
    await close(client)
    assert session.id == "cksess_1"
    request = seen[0]
    assert request.method == "POST" and str(request.url) == "http://test/v1/chatkit/sessions"
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.headers["OpenAI-Beta"] == "chatkit_beta=v1"
    assert request.headers["OpenAI-Organization"] == "org_1"
    assert request.headers["OpenAI-Project"] == "proj_1"
    assert json.loads(request.content) == {"user": "u1", "workflow": {"id": "wf_1"}}


@pytest.mark.anyio
async def test_retries_5xx_then_succeeds_and_logs_each_retry(kind: str, caplog: pytest.LogCaptureFixture) -> None:
    answers = [
        httpx2.Response(503, content=error_body("busy", type_="server_error"), headers={"retry-after-ms": "0"}),
        httpx2.Response(502, content=b"<html>bad gateway</html>", headers={"retry-after-ms": "0"}),
        httpx2.Response(200, json=SESSION),
    ]
    client = make(kind, lambda request: answers.pop(0))
    with caplog.at_level(logging.INFO, logger="chatkit_client"):
        session = await resolve(client.sessions.cancel("cksess_1"))
    await close(client)
    assert session.id == "cksess_1" and answers == []
    retries = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert len(retries) == 2 and "status 503" in retries[0] and "status 502" in retries[1]


@pytest.mark.anyio
async def test_gives_up_after_max_retries_with_a_typed_error(kind: str) -> None:
    calls = 0

    def handler(request: httpx2.Request) -> httpx2.Response:
        nonlocal calls
        calls += 1
        return httpx2.Response(
            500,
            content=error_body("The server had an error", type_="server_error"),
            headers={"x-request-id": "req_abc", "retry-after-ms": "0"},
        )

    client = make(kind, handler)
    with pytest.raises(InternalServerError) as info:
        await resolve(client.sessions.cancel("cksess_1"))
    await close(client)
    assert calls == 3
    err = info.value
    assert err.status_code == 500 and err.request_id == "req_abc" and err.type == "server_error"
    assert "req_abc" in str(err) and "The server had an error" in str(err)


@pytest.mark.anyio
async def test_4xx_is_not_retried_and_is_parsed(kind: str) -> None:
    calls = 0

    def handler(request: httpx2.Request) -> httpx2.Response:
        nonlocal calls
        calls += 1
        return httpx2.Response(400, content=error_body("bad user", code="invalid_value"))

    client = make(kind, handler)
    with pytest.raises(BadRequestError) as info:
        await resolve(client.sessions.create(user="u1", workflow="wf_1"))
    await close(client)
    assert calls == 1 and info.value.code == "invalid_value" and info.value.message == "bad user"


@pytest.mark.anyio
async def test_429_waits_for_retry_after_then_raises_when_too_long(kind: str) -> None:
    answers = [
        httpx2.Response(
            429, content=error_body("slow down", type_="rate_limit_exceeded"), headers={"retry-after": "0"}
        ),
        httpx2.Response(
            429, content=error_body("slow down", type_="rate_limit_exceeded"), headers={"retry-after": "3600"}
        ),
    ]
    client = make(kind, lambda request: answers.pop(0))
    with pytest.raises(RateLimitError) as info:
        await resolve(client.sessions.cancel("cksess_1"))
    await close(client)
    assert answers == [] and info.value.headers.get("retry-after") == "3600"


@pytest.mark.anyio
async def test_connection_errors_are_retried_and_translated(kind: str) -> None:
    calls = 0

    def handler(request: httpx2.Request) -> httpx2.Response:
        nonlocal calls
        calls += 1
        raise httpx2.ConnectError("connection refused", request=request)

    client = make(kind, handler, max_retries=1)
    with pytest.raises(APIConnectionError) as info:
        await resolve(client.sessions.cancel("cksess_1"))
    await close(client)
    assert calls == 2
    assert not isinstance(info.value, APITimeoutError)
    assert isinstance(info.value.__cause__, httpx2.ConnectError)


@pytest.mark.anyio
async def test_timeouts_become_api_timeout_errors(kind: str) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ReadTimeout("timed out", request=request)

    client = make(kind, handler, max_retries=0)
    with pytest.raises(APITimeoutError, match="timed out"):
        await resolve(client.sessions.cancel("cksess_1"))
    await close(client)


@pytest.mark.anyio
async def test_with_options_overrides_retries_per_call(kind: str) -> None:
    calls = 0

    def handler(request: httpx2.Request) -> httpx2.Response:
        nonlocal calls
        calls += 1
        return httpx2.Response(503, headers={"retry-after-ms": "0"})

    client = make(kind, handler)
    with pytest.raises(InternalServerError):
        await resolve(client.with_options(max_retries=0).sessions.cancel("cksess_1"))
    assert calls == 1
    await close(client)


@pytest.mark.anyio
async def test_missing_api_key_fails_before_any_request(kind: str) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:  # pragma: no cover - must not be reached
        raise AssertionError("no request may be sent")

    client = make(kind, handler)
    client.api_key = None
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        await resolve(client.sessions.create(user="u1", workflow="wf_1"))
    await close(client)


@pytest.mark.anyio
async def test_secrets_never_reach_logs_or_errors(kind: str, caplog: pytest.LogCaptureFixture) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        if request.url.path.endswith("/files"):
            return httpx2.Response(401, content=error_body("Invalid client secret", code="invalid_client_secret"))
        return httpx2.Response(200, json=SESSION, headers={"x-request-id": "req_9"})

    client = make(kind, handler)
    with caplog.at_level(logging.DEBUG, logger="chatkit_client"):
        session = await resolve(client.sessions.create(user="u1", workflow="wf_1"))
        with pytest.raises(AuthenticationError) as info:
            await resolve(client.files.upload(("a.png", b"\x89PNG"), client_secret=session.client_secret))
    await close(client)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "req_9" in logged  # the DEBUG lines are there...
    for secret in (API_KEY, SESSION["client_secret"]):
        assert secret not in logged  # ...without any credential
        assert secret not in str(info.value) and secret not in repr(info.value)
        assert secret not in repr(session) and secret not in repr(client)


def test_environment_is_read_in_the_constructor_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env-123456")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://env.example/v1/")
    monkeypatch.setenv("OPENAI_ORG_ID", "org_env")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj_env")
    client = ChatKit()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-changed-later")
    assert client.api_key == "sk-from-env-123456"
    assert client.base_url == "http://env.example/v1"
    assert (client.organization, client.project) == ("org_env", "proj_env")
    assert ChatKit(api_key="sk-explicit-0000").api_key == "sk-explicit-0000"
    client.close()


def test_default_timeout_is_five_seconds_to_connect_and_ten_minutes_to_read() -> None:
    client = ChatKit(api_key="sk-test-000000")
    assert client.timeout.connect == 5.0 and client.timeout.read == 600.0
    assert client.with_options(timeout=3).timeout.read == 3
    client.close()


def test_max_event_size_is_a_client_option_the_stream_error_names() -> None:
    from chatkit_client import InvalidInputError

    assert ChatKit(server_url="http://x/chatkit").max_event_size == 64 * 1024 * 1024
    client = ChatKit(server_url="http://x/chatkit", max_event_size=1024)
    assert client.with_options(max_retries=0).max_event_size == 1024
    client.close()
    with pytest.raises(InvalidInputError, match="max_event_size"):
        ChatKit(server_url="http://x/chatkit", max_event_size=0)


@pytest.mark.parametrize(
    ("failure", "calls", "retried"),
    [
        (httpx2.ConnectError, 2, True),  # never reached the server: safe to send again
        (httpx2.RemoteProtocolError, 1, False),  # sent, then the server hung up: it may have the message
        (httpx2.ReadError, 1, False),
    ],
)
@pytest.mark.anyio
async def test_a_streamed_message_is_resent_only_when_it_cannot_have_arrived(
    kind: str, failure: type[httpx2.TransportError], calls: int, retried: bool
) -> None:
    seen = 0

    def handler(request: httpx2.Request) -> httpx2.Response:
        nonlocal seen
        seen += 1
        raise failure("boom", request=request)

    transport = httpx2.MockTransport(handler)
    http: Any = httpx2.Client(transport=transport) if kind == "sync" else httpx2.AsyncClient(transport=transport)
    client = (ChatKit if kind == "sync" else AsyncChatKit)(
        server_url="http://test/chatkit", http_client=http, max_retries=1
    )
    client._transport.random = lambda: 1.0
    with pytest.raises(APIConnectionError) as info:
        await resolve(client.chat().send("hello"))
    await resolve(http.close() if kind == "sync" else http.aclose())
    assert seen == calls
    assert ("not sent again" in str(info.value)) is not retried


def test_total_timeout_and_max_response_size_are_client_options() -> None:
    from chatkit_client import InvalidInputError

    client = ChatKit(server_url="http://x/chatkit")
    assert client.total_timeout is None  # no overall limit unless asked for
    assert client.max_response_size == 64 * 1024 * 1024
    assert client._transport.total_timeout is None
    limited = client.with_options(total_timeout=30)
    assert limited.total_timeout == 30.0 and limited._transport.total_timeout == 30.0
    assert limited.with_options(max_retries=0).total_timeout == 30.0  # kept by later copies
    assert limited.with_options(total_timeout=None).total_timeout is None
    small = ChatKit(server_url="http://x/chatkit", max_response_size=1000)
    assert small.with_options(timeout=5)._transport.max_response_size == 1000
    for bad in (0, -1, True, "5"):
        with pytest.raises(InvalidInputError, match="total_timeout"):
            ChatKit(server_url="http://x/chatkit", total_timeout=bad)  # type: ignore[arg-type]
    for bad in (0, 2.5, False):
        with pytest.raises(InvalidInputError, match="max_response_size"):
            ChatKit(server_url="http://x/chatkit", max_response_size=bad)  # type: ignore[arg-type]
    client.close()
    small.close()


@pytest.mark.anyio
async def test_an_error_body_is_read_only_as_far_as_a_message_needs(kind: str) -> None:
    huge = b"<html>" + b"x" * (4 * 1024 * 1024)
    client = make(kind, lambda request: httpx2.Response(500, content=huge), max_retries=0)
    with pytest.raises(InternalServerError) as info:
        await resolve(client.sessions.cancel("cksess_1"))
    await close(client)
    assert isinstance(info.value.body, str) and len(info.value.body) == 64 * 1024


@pytest.mark.anyio
async def test_a_request_that_is_not_valid_http_is_neither_retried_nor_echoed(kind: str) -> None:
    calls = 0

    def handler(request: httpx2.Request) -> httpx2.Response:
        nonlocal calls
        calls += 1
        raise httpx2.LocalProtocolError(f"Illegal header value b'Bearer {API_KEY}\\n'", request=request)

    client = make(kind, handler, max_retries=2)
    with pytest.raises(APIConnectionError) as info:
        await resolve(client.sessions.cancel("cksess_1"))
    await close(client)
    assert calls == 1
    assert "not valid HTTP" in str(info.value) and API_KEY not in str(info.value)


def test_a_json_answer_nested_past_the_stack_is_a_validation_error() -> None:
    from chatkit_client import APIResponseValidationError
    from chatkit_client._core.requests import ApiResponse

    deep = b"[" * 200_000 + b"]" * 200_000
    with pytest.raises(APIResponseValidationError, match="nested too deeply"):
        ApiResponse(200, {"content-type": "application/json"}, deep, None).json()
