"""The fault scenarios, what each must produce, and one checker shared by the tests and `report.py`.

A case names a `MisbehavingServer` scenario, how the chat is set up (self-hosted, hosted with sessions,
hosted with a bare client secret) and the expected outcome. `run_case` plays it with `ChatKit` or
`AsyncChatKit` and returns the list of broken promises (empty when the client behaved).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from chatkit_client import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    ChatKitError,
    InternalServerError,
    RateLimitError,
    Reply,
    StreamDecodeError,
    StreamEndedEarlyError,
    StreamInterruptedError,
)
from tests.helpers import close, make_client, resolve
from tests.reliability.misbehaving_server import CLIENT_SECRET, HUGE_DELTA_BYTES, MisbehavingServer

API_KEY = "sk-reliability-SECRET-api-key-0123456789"
APP_TOKEN = "app-token-SECRET-0123456789"
SECRETS = (API_KEY, APP_TOKEN, CLIENT_SECRET)
TEXT = "hi there"
# What arrived before every mid-stream break: the user message and the first two words of the answer.
PARTIAL_TEXT = "You said: "


@dataclass(frozen=True)
class Case:
    scenario: str
    mode: str = "self"  # "self" (server_url=), "hosted" (user+workflow: sessions), "secret" (client_secret=)
    error: type[ChatKitError] | None = None
    sends: int = 1  # conversation requests the server must see, at most
    session_sends: int | None = None  # session requests, for hosted mode
    text: str | None = None  # the finished reply's text
    partial: bool = False  # the error's .reply must hold what arrived before the break
    hint: str = ""  # what the error message must say, so a person knows what to do
    log_hint: str = ""  # a log line that proves the retry waited as asked
    timeout: float = 2.0
    max_retries: int = 1
    known_gap: str = ""  # a promise of the issue this case is known to break (counted as failed in the report)

    @property
    def id(self) -> str:
        return self.scenario if self.mode == "self" else f"{self.scenario}[{self.mode}]"


R = 1  # max_retries used by the cases: a retried request is seen 1 + R times
CASES: list[Case] = [
    Case("ok", text=f"You said: {TEXT}"),
    Case("ok", mode="hosted", text=f"You said: {TEXT}", session_sends=1),
    # The server closed or reset the connection after the message went out: it may have taken it, so the
    # client reports the failure instead of sending the message twice.
    Case("close_in_headers", error=APIConnectionError, sends=1, hint="not sent again"),
    Case("close_before_response", error=APIConnectionError, sends=1, hint="not sent again"),
    Case("close_in_chunk", error=StreamInterruptedError, partial=True, hint=".reply"),
    Case("close_between_events", error=StreamInterruptedError, partial=True, hint=".reply"),
    Case("close_in_event", error=StreamInterruptedError, partial=True, hint=".reply"),
    Case("close_in_event", mode="secret", error=StreamInterruptedError, partial=True, hint=".reply"),
    Case("reset_mid_stream", error=StreamInterruptedError, partial=True, hint="reset"),
    Case("reset_before_response", error=APIConnectionError, sends=1, hint="not sent again"),
    # A read timeout after the message went out: the server may be working on it, so it is not resent.
    Case("hang", error=APITimeoutError, sends=1, timeout=1.0, hint="not sent again"),
    Case("hang_mid_stream", error=StreamInterruptedError, partial=True, timeout=1.0, hint="timed out"),
    # ~120 bytes at 50 ms each: the turn outlasts the 2 s read timeout, which applies per read.
    Case("drip", text=""),
    Case("bad_json", error=StreamDecodeError, partial=True, hint="not valid JSON"),
    Case("not_utf8", text="caf\ufffd\ufffd ok"),
    Case("huge_event", text="x" * HUGE_DELTA_BYTES, timeout=10.0),
    # A gateway's 502 after the message went out: the app may have taken it, so it is not resent.
    Case("http502", error=InternalServerError, sends=1, hint="502 Bad Gateway"),
    Case("http502", mode="secret", error=InternalServerError, sends=1, hint="may have acted on it"),
    Case("http503_once", sends=2, text=f"You said: {TEXT}"),
    Case(
        "http503_session",
        mode="hosted",
        error=InternalServerError,
        sends=0,
        session_sends=1 + R,
        hint="503 Service Unavailable",
    ),
    Case("http502_session_once", mode="hosted", session_sends=2, text=f"You said: {TEXT}"),
    Case("r429_retry_after", sends=2, text=f"You said: {TEXT}", log_hint="in 1.00 s"),
    Case("r429_retry_after", mode="secret", sends=2, text=f"You said: {TEXT}", log_hint="in 1.00 s"),
    Case("r429_retry_after_ms", sends=2, text=f"You said: {TEXT}", log_hint="in 0.15 s"),
    Case(
        "r429_session_always",
        mode="hosted",
        error=RateLimitError,
        sends=0,
        session_sends=1 + R,
        hint="Rate limit reached",
    ),
    Case("r429_session_once", mode="hosted", session_sends=2, text=f"You said: {TEXT}", log_hint="in 1.00 s"),
    Case("json_not_sse", error=APIResponseValidationError, hint="text/event-stream"),
    Case("json_not_sse", mode="hosted", error=APIResponseValidationError, session_sends=1, hint="text/event-stream"),
    Case("html_not_sse", error=APIResponseValidationError, hint="got text/html"),
    Case("gzip", text=f"You said: {TEXT}"),
    Case("gzip_corrupt_first", error=StreamEndedEarlyError, hint="decompressing"),
    Case("gzip_corrupt_mid", error=StreamInterruptedError, partial=True, hint="decompressing"),
    Case("unknown_item_delta", text=f"You said: {TEXT}\n\nghost text"),
    Case("duplicated_events", text=f"You said: {TEXT}"),
]


@dataclass
class Outcome:
    case: Case
    kind: str
    problems: list[str]
    data_lost: bool
    elapsed: float
    result: str


def make_chat(case: Case, kind: str, server: MisbehavingServer) -> tuple[Any, Any]:
    url = server.url(case.scenario)
    common: dict[str, Any] = {"timeout": case.timeout, "max_retries": case.max_retries}
    if case.mode == "self":
        client = make_client(kind, server_url=url, headers={"Authorization": f"Bearer {APP_TOKEN}"}, **common)
        return client, client.chat()
    client = make_client(kind, api_key=API_KEY, base_url=url + "/v1", **common)
    if case.mode == "hosted":
        return client, client.chat(user="user_rel", workflow="wf_rel")
    return client, client.chat(client_secret=CLIENT_SECRET)


def _texts_of(reply: Reply) -> tuple[str | None, str]:
    user = reply.user_message
    user_text = user.content[0].text if user is not None and user.content else None
    return user_text, reply.text


async def run_case(case: Case, kind: str, server: MisbehavingServer, log_text: Any) -> Outcome:
    """Play one case; `log_text()` returns every log line captured so far (caplog or a handler)."""
    server.reset_log()
    problems: list[str] = []
    data_lost = False
    client, chat = make_chat(case, kind, server)
    started = time.monotonic()
    reply: Reply | None = None
    error: BaseException | None = None
    try:
        reply = await resolve(chat.send(TEXT))
    except Exception as err:
        error = err
    finally:
        await close(client)
    elapsed = time.monotonic() - started

    # Never hang: every attempt is bounded by the read timeout, plus the backoff between attempts.
    if elapsed > (case.max_retries + 1) * (case.timeout + 1.5) + 5:
        problems.append(f"took {elapsed:.1f} s")
    if case.error is None:
        if error is not None:
            problems.append(f"expected success, got {type(error).__name__}: {error}")
            data_lost = True
        elif case.scenario == "drip":
            if [p.text for p in reply.progress] != ["ok"]:  # type: ignore[union-attr]
                problems.append("the dripped progress event is missing")
                data_lost = True
        elif reply is not None and reply.text != case.text:
            problems.append(f"reply text {reply.text[:80]!r} != {case.text[:80]!r}")
            data_lost = True
    else:
        if not isinstance(error, case.error):
            problems.append(f"expected {case.error.__name__}, got {type(error).__name__}: {error}")
        elif case.hint not in str(error):
            problems.append(f"message {str(error)!r} does not say {case.hint!r}")
        if case.partial:
            partial = getattr(error, "reply", None)
            if not isinstance(partial, Reply) or _texts_of(partial) != (TEXT, PARTIAL_TEXT):
                got = _texts_of(partial) if isinstance(partial, Reply) else None
                problems.append(f"partial reply lost data: {got!r}")
                data_lost = True
    if error is not None and not isinstance(error, ChatKitError):
        problems.append(f"undocumented exception type {type(error).__name__}")

    conversation = len(server.conversation_requests(case.scenario))
    if conversation != case.sends:
        problems.append(f"the server saw {conversation} conversation requests, expected {case.sends}")
    if case.session_sends is not None:
        sessions = len(server.requests(case.scenario)) - conversation
        if sessions != case.session_sends:
            problems.append(f"the server saw {sessions} session requests, expected {case.session_sends}")
    logs = log_text()
    if case.log_hint and case.log_hint not in logs:
        problems.append(f"no retry log line saying {case.log_hint!r}")
    shown = [logs, str(error), repr(error), repr(getattr(error, "reply", None)), repr(reply)]
    for secret in SECRETS:
        if any(secret in text for text in shown):
            problems.append("a secret appears in logs or exception text")
    result = "ok" if error is None else type(error).__name__
    return Outcome(case, kind, problems, data_lost, elapsed, result)


def capture_logs() -> tuple[logging.Handler, Any]:
    """A DEBUG handler on the root logger (for report.py, where there is no caplog)."""
    lines: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = _Collect(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    return handler, lambda: "\n".join(lines)
