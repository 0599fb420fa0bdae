"""An in-process emulator of OpenAI's hosted ChatKit API, for test suites.

`HostedEmulator` is an ASGI app that answers every `/v1/chatkit/...` endpoint the way the hosted API
does as far as it is publicly recorded: sessions and client secrets, the threads admin API, file
uploads and the `/v1/chatkit/conversation` endpoint with its server-sent event stream. It keeps its state
in memory, records every request, and can inject faults: error answers, delays, broken or slow streams,
in-stream error events, revoked or expired secrets and rate limiting.

Usage:

```python
from chatkit_client.testing import HostedEmulator, serve_emulator

emulator = HostedEmulator(responder=lambda turn: f"echo: {turn.text}")
with serve_emulator(emulator) as running:
    client = ChatKit(api_key=running.api_key, base_url=running.base_url)
    ...  # drive your code against running.base_url
    emulator.fail_next(500, path="/chatkit/conversation")    # the next conversation call fails
    emulator.set_stream_faults(drop_after_events=3)           # the next stream breaks mid-way
assert emulator.requests[0].path == "/v1/chatkit/sessions"
```

Behaviour that no public source records (error bodies of 400/429, rate-limit headers, the JSON
conversation answers) follows the OpenAI conventions and chatkit-python; see docs/protocol.md §8.
The emulator never stores uploaded bytes, only their size and SHA-256.

This module holds only `HostedEmulator` (shared state, routing, the public views and controls) and
`serve_emulator`; it imports the other `_emulator_*` modules, each of which holds one concern:
`_emulator_faults` (fault injection), `_emulator_rest` (sessions and threads), `_emulator_files` (uploads),
`_emulator_conversation` (the protocol endpoint), over `_emulator_request`, `_emulator_state`,
`_emulator_model` and `_emulator_validate`.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Awaitable, Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ._emulator_conversation import Conversation
from ._emulator_faults import Fault, Faults, StreamFaults
from ._emulator_files import FileUploads
from ._emulator_model import (
    ApiFailure,
    Feedback,
    FileInfo,
    RecordedRequest,
    SessionInfo,
    ThreadInfo,
    Turn,
    new_request_id,
)
from ._emulator_request import SERVER_ERROR, Ctx, error_response
from ._emulator_rest import RestResources
from ._emulator_state import EmulatorState
from ._serve import serve_app

__all__ = [
    "Feedback",
    "FileInfo",
    "HostedEmulator",
    "RecordedRequest",
    "RunningEmulator",
    "SessionInfo",
    "ThreadInfo",
    "Turn",
    "serve_emulator",
]


class HostedEmulator:
    """An in-memory stand-in for OpenAI's hosted ChatKit API, served as an ASGI app.

    **Parameters:**

    * `api_key` - the key that server-side calls (sessions, threads) must send as `Bearer`.
    * `known_workflows` - when given, sessions for other workflow ids fail with 404 like a key from
      another project does.
    * `responder` - computes the assistant's answer for a user message; default `"You said: <text>"`.

    It runs on the server's thread; every state view (`requests`, `sessions`, `threads`, `files`,
    `feedback`) is a snapshot taken under a lock, safe to read from the test's thread.

    >>> emulator = HostedEmulator(known_workflows={"wf_demo"})
    >>> with serve_emulator(emulator) as running:  # doctest: +SKIP
    ...     httpx2.post(running.base_url + "/chatkit/sessions", ...)
    """

    def __init__(
        self,
        *,
        api_key: str = "sk-test-emulator",
        known_workflows: Collection[str] | None = None,
        responder: Callable[[Turn], str] | None = None,
    ) -> None:
        self._state = EmulatorState(api_key)
        self._faults = Faults()
        self._rest = RestResources(self._state, frozenset(known_workflows) if known_workflows is not None else None)
        self._uploads = FileUploads(self._state)
        self._conversation = Conversation(self._state, self._faults, responder)
        self._app = _App(self)

    def __repr__(self) -> str:
        return f"<HostedEmulator sessions={len(self._state.sessions)} threads={len(self._state.threads)}>"

    @property
    def api_key(self) -> str:
        """The key that server-side calls (sessions, threads) must send as `Bearer`."""
        return self._state.api_key

    @api_key.setter
    def api_key(self, value: str) -> None:
        self._state.api_key = value

    # ------------------------------------------------------------------------------------------ views

    @property
    def app(self) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
        """The ASGI application; it serves every path under `/v1/chatkit/`."""
        return self._app

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first (including those answered by injected faults)."""
        with self._state.lock:
            return list(self._state.requests)

    def clear_requests(self) -> None:
        with self._state.lock:
            self._state.requests.clear()

    @property
    def sessions(self) -> Mapping[str, SessionInfo]:
        with self._state.lock:
            now = self._state.now()
            return MappingProxyType({sid: s.snapshot(now) for sid, s in self._state.sessions.items()})

    @property
    def threads(self) -> Mapping[str, ThreadInfo]:
        with self._state.lock:
            return MappingProxyType({tid: t.snapshot() for tid, t in self._state.threads.items()})

    @property
    def files(self) -> Mapping[str, FileInfo]:
        with self._state.lock:
            return MappingProxyType(dict(self._state.files))

    @property
    def feedback(self) -> list[Feedback]:
        with self._state.lock:
            return list(self._state.feedback)

    def now(self) -> float:
        """The emulator's clock (Unix seconds): wall time plus everything passed to `advance`."""
        with self._state.lock:
            return self._state.now()

    # ---------------------------------------------------------------------------------- controls

    def fail_next(
        self,
        status: int,
        *,
        path: str | None = None,
        times: int = 1,
        body: object | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer the next `times` matching requests with `status` and an OpenAI-shaped error body.

        `path` matches the request path after `/v1` by prefix (`"/chatkit/sessions"`); None matches all.
        `body` replaces the error body (sent as JSON); `headers` are added to the answer.
        """
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._state.lock:
            self._faults.add(Fault("fail", path, times, status=status, body=body, headers=headers))

    def delay_next(self, seconds: float, *, path: str | None = None, times: int = 1) -> None:
        """Hold the next `times` matching requests for `seconds` (real time) before handling them."""
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._state.lock:
            self._faults.add(Fault("delay", path, times, seconds=seconds))

    def set_stream_faults(
        self,
        *,
        drop_after_events: int | None = None,
        byte_chunks: bool = False,
        event_delay: float = 0.0,
        error_after_events: int | None = None,
        error: Mapping[str, object] | None = None,
        times: int | None = 1,
    ) -> None:
        """Disturb the next `times` conversation streams (None: every stream until `reset_faults`).

        * `drop_after_events` - break the connection after that many events (an incomplete chunked body).
        * `byte_chunks` - send every byte as its own body chunk (splits UTF-8 sequences and lines).
        * `event_delay` - sleep that many seconds between events.
        * `error_after_events` - after that many events send an `error` event and end cleanly; `error`
          overrides its fields (default `{"code": "stream.error", "allow_retry": true}`).

        The turn is stored completely whatever the fault, like a server that finished after the client left.
        """
        payload: dict[str, Any] = {"type": "error", "code": "stream.error", "allow_retry": True}
        payload.update(error or {})
        payload["type"] = "error"
        with self._state.lock:
            self._faults.stream = StreamFaults(
                drop_after_events, byte_chunks, event_delay, error_after_events, payload, times
            )

    def reset_faults(self) -> None:
        """Forget every pending `fail_next`, `delay_next` and stream fault."""
        with self._state.lock:
            self._faults.reset()

    def revoke(self, client_secret: str) -> None:
        """Make one client secret stop working (401), as if it had leaked and been revoked."""
        with self._state.lock:
            session_id = self._state.by_secret.get(client_secret)
            if session_id is None:
                raise KeyError("unknown client secret")
            self._state.sessions[session_id].revoked = True

    def revoke_all(self) -> None:
        with self._state.lock:
            for session in self._state.sessions.values():
                session.revoked = True

    def expire(self, session_id: str) -> None:
        """Make a session expire now: its secret answers 401 and its status reads `expired`."""
        with self._state.lock:
            self._state.sessions[session_id].expires_at = math.floor(self._state.now())

    def advance(self, seconds: float) -> None:
        """Move the emulator's clock forward (session expiry, rate-limit windows, timestamps)."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._state.lock:
            self._state.offset += seconds

    # ----------------------------------------------------------------------------------- ASGI

    async def _asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        request_id = new_request_id()
        response = await self._handle(request, request_id)
        response.headers["x-request-id"] = request_id
        response.headers["openai-version"] = "2020-10-01"
        await response(scope, receive, send)

    async def _handle(self, request: Request, request_id: str) -> Response:
        path = request.url.path
        body: Any = None
        body_ok = True
        if "json" in request.headers.get("content-type", ""):
            raw = await request.body()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body_ok = False
        with self._state.lock:
            self._state.requests.append(
                RecordedRequest(
                    method=request.method,
                    path=path,
                    query=dict(request.query_params),
                    headers={k.lower(): v for k, v in request.headers.items()},
                    json=body,
                    request_id=request_id,
                )
            )
            delay = self._faults.take("delay", path)
        if delay is not None:
            await asyncio.sleep(delay.seconds)
        with self._state.lock:
            failure = self._faults.take("fail", path)
        if failure is not None:
            return self._faults.injected(failure)
        ctx = Ctx(request, request_id, f"{request.url.scheme}://{request.url.netloc}", body, body_ok)
        try:
            return await self._route(ctx)
        except ApiFailure as exc:
            return error_response(exc)
        except Exception as exc:
            # A bug here (or in a user's responder) must reach the test as a 500, not a hung client.
            return error_response(ApiFailure(500, f"{SERVER_ERROR} ({type(exc).__name__})", type="server_error"))

    async def _route(self, ctx: Ctx) -> Response:
        method, path = ctx.request.method, ctx.request.url.path
        parts = path.strip("/").split("/")
        if parts[:2] == ["v1", "chatkit"]:
            rest = parts[2:]
            if method == "POST" and rest == ["sessions"]:
                return self._rest.create_session(ctx)
            if method == "POST" and len(rest) == 3 and rest[0] == "sessions" and rest[2] == "cancel":
                return self._rest.cancel_session(ctx, rest[1])
            if method == "GET" and rest == ["threads"]:
                return self._rest.list_threads(ctx)
            if len(rest) == 2 and rest[0] == "threads" and method in ("GET", "DELETE"):
                return self._rest.thread(ctx, rest[1], delete=method == "DELETE")
            if method == "GET" and len(rest) == 3 and rest[0] == "threads" and rest[2] == "items":
                return self._rest.list_items(ctx, rest[1])
            if method == "POST" and rest == ["files"]:
                return await self._uploads.upload(ctx)
            if method == "POST" and rest == ["conversation"]:
                return self._conversation.handle(ctx)
        raise ApiFailure(404, f"Invalid URL ({method} {path})")


# ---------------------------------------------------------------------------------------------------------
# serving


class _App:
    # uvicorn recognises ASGI 3 apps by an `async def __call__`; a bound method would pass for ASGI 2.
    def __init__(self, emulator: HostedEmulator) -> None:
        self._emulator = emulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._emulator._asgi(scope, receive, send)


@dataclass(frozen=True)
class RunningEmulator:
    """A served emulator: `base_url` is what `ChatKit(base_url=...)` takes (origin + `/v1`).

    >>> with serve_emulator() as running:  # doctest: +SKIP
    ...     ChatKit(api_key=running.api_key, base_url=running.base_url)
    """

    base_url: str
    origin: str
    api_key: str = field(repr=False)
    emulator: HostedEmulator


@contextmanager
def serve_emulator(
    emulator: HostedEmulator | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> Iterator[RunningEmulator]:
    """Serve `emulator` (a fresh one if None) with uvicorn on loopback until the block ends.

    >>> with serve_emulator() as running:  # doctest: +SKIP
    ...     httpx2.get(running.base_url + "/chatkit/threads", headers=...)
    """
    emu = emulator if emulator is not None else HostedEmulator()
    with serve_app(emu.app, host=host, port=port) as origin:
        yield RunningEmulator(base_url=origin + "/v1", origin=origin, api_key=emu.api_key, emulator=emu)
