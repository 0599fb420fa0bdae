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
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import math
import mimetypes
import re
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from ._emulator_model import (
    ApiFailure,
    Feedback,
    FileInfo,
    ItemRecord,
    RecordedRequest,
    SessionInfo,
    SessionRecord,
    ThreadInfo,
    ThreadRecord,
    Turn,
    iso_timestamp,
    mask_secret,
    new_client_secret,
    new_id,
    new_request_id,
    not_found,
    paginate,
    protocol_thread,
    rest_item,
    rest_thread,
)
from ._emulator_validate import CONVERSATION_PARAMS, SESSION_CREATE, STREAMING_TYPES, resolve_session
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

_BETA = "chatkit_beta=v1"
_ALLOWED_TYPES = {
    "application/pdf": "file",
    "image/png": "image",
    "image/jpeg": "image",
    "image/gif": "image",
    "image/webp": "image",
}
_MIME_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg"}
_READ_CHUNK = 64 * 1024
_PAGE_SIZE = 20
_TOOL_PATTERN = re.compile(r"^tool:(?P<name>[^\s{]+)\s*(?P<args>.*)$", re.DOTALL)
_DELTA_PATTERN = re.compile(r"\S+\s*|\s+")
_SERVER_ERROR = "The server had an error while processing your request. Sorry about that!"


@dataclass
class _Fault:
    kind: str  # "fail" or "delay"
    path: str | None
    remaining: int
    status: int = 0
    body: object | None = None
    headers: Mapping[str, str] | None = None
    seconds: float = 0.0


@dataclass
class _StreamFaults:
    drop_after_events: int | None
    byte_chunks: bool
    event_delay: float
    error_after_events: int | None
    error: dict[str, Any]
    remaining: int | None


@dataclass
class _ToolCall:
    name: str
    arguments: dict[str, Any]


@dataclass
class _Ctx:
    request: Request
    request_id: str
    origin: str
    body: Any
    body_ok: bool


def _default_error(status: int) -> ApiFailure:
    if status == 429:
        return ApiFailure(
            429, "Rate limit reached for requests.", type="rate_limit_exceeded", code="rate_limit_exceeded"
        )
    if status >= 500:
        return ApiFailure(status, _SERVER_ERROR, type="server_error")
    if status == 401:
        return ApiFailure(401, "Invalid authentication credentials.", code="invalid_api_key")
    return ApiFailure(status, f"Injected error {status}.")


def _drop_none(value: Any) -> Any:
    """Hosted output omits nulls (chatkit-python's `exclude_none`)."""
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def _title_from(text: str) -> str:
    words = text.split()
    if not words:
        return "New conversation"
    title = " ".join(words[:6])
    return title if len(title) <= 40 else title[:39].rstrip() + "…"


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
        self.api_key = api_key
        self._known = frozenset(known_workflows) if known_workflows is not None else None
        self._responder = responder
        # Reentrant so a responder (called under the lock) may read the emulator's views.
        self._lock = threading.RLock()
        self._offset = 0.0
        self._seq = itertools.count()
        self._requests: list[RecordedRequest] = []
        self._sessions: dict[str, SessionRecord] = {}
        self._by_secret: dict[str, str] = {}
        self._threads: dict[str, ThreadRecord] = {}
        self._files: dict[str, FileInfo] = {}
        self._feedback: list[Feedback] = []
        self._faults: list[_Fault] = []
        self._stream_faults: _StreamFaults | None = None
        self._app = _App(self)

    def __repr__(self) -> str:
        return f"<HostedEmulator sessions={len(self._sessions)} threads={len(self._threads)}>"

    # ------------------------------------------------------------------------------------------ views

    @property
    def app(self) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
        """The ASGI application; it serves every path under `/v1/chatkit/`."""
        return self._app

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first (including those answered by injected faults)."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    @property
    def sessions(self) -> Mapping[str, SessionInfo]:
        with self._lock:
            now = self._now()
            return MappingProxyType({sid: s.snapshot(now) for sid, s in self._sessions.items()})

    @property
    def threads(self) -> Mapping[str, ThreadInfo]:
        with self._lock:
            return MappingProxyType({tid: t.snapshot() for tid, t in self._threads.items()})

    @property
    def files(self) -> Mapping[str, FileInfo]:
        with self._lock:
            return MappingProxyType(dict(self._files))

    @property
    def feedback(self) -> list[Feedback]:
        with self._lock:
            return list(self._feedback)

    def now(self) -> float:
        """The emulator's clock (Unix seconds): wall time plus everything passed to `advance`."""
        with self._lock:
            return self._now()

    def _now(self) -> float:
        return time.time() + self._offset

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
        with self._lock:
            self._faults.append(_Fault("fail", path, times, status=status, body=body, headers=headers))

    def delay_next(self, seconds: float, *, path: str | None = None, times: int = 1) -> None:
        """Hold the next `times` matching requests for `seconds` (real time) before handling them."""
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._faults.append(_Fault("delay", path, times, seconds=seconds))

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
        with self._lock:
            self._stream_faults = _StreamFaults(
                drop_after_events, byte_chunks, event_delay, error_after_events, payload, times
            )

    def reset_faults(self) -> None:
        """Forget every pending `fail_next`, `delay_next` and stream fault."""
        with self._lock:
            self._faults.clear()
            self._stream_faults = None

    def revoke(self, client_secret: str) -> None:
        """Make one client secret stop working (401), as if it had leaked and been revoked."""
        with self._lock:
            session_id = self._by_secret.get(client_secret)
            if session_id is None:
                raise KeyError("unknown client secret")
            self._sessions[session_id].revoked = True

    def revoke_all(self) -> None:
        with self._lock:
            for session in self._sessions.values():
                session.revoked = True

    def expire(self, session_id: str) -> None:
        """Make a session expire now: its secret answers 401 and its status reads `expired`."""
        with self._lock:
            self._sessions[session_id].expires_at = math.floor(self._now())

    def advance(self, seconds: float) -> None:
        """Move the emulator's clock forward (session expiry, rate-limit windows, timestamps)."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += seconds

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
        with self._lock:
            self._requests.append(
                RecordedRequest(
                    method=request.method,
                    path=path,
                    query=dict(request.query_params),
                    headers={k.lower(): v for k, v in request.headers.items()},
                    json=body,
                    request_id=request_id,
                )
            )
            delay = self._take_fault("delay", path)
        if delay is not None:
            await asyncio.sleep(delay.seconds)
        with self._lock:
            failure = self._take_fault("fail", path)
        if failure is not None:
            return self._injected(failure)
        ctx = _Ctx(request, request_id, f"{request.url.scheme}://{request.url.netloc}", body, body_ok)
        try:
            return await self._route(ctx)
        except ApiFailure as exc:
            return _error_response(exc)
        except Exception as exc:
            # A bug here (or in a user's responder) must reach the test as a 500, not a hung client.
            return _error_response(ApiFailure(500, f"{_SERVER_ERROR} ({type(exc).__name__})", type="server_error"))

    def _take_fault(self, kind: str, path: str) -> _Fault | None:
        suffix = path[3:] if path.startswith("/v1") else path
        for fault in self._faults:
            if fault.kind == kind and (fault.path is None or suffix.startswith(fault.path)):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    @staticmethod
    def _injected(fault: _Fault) -> Response:
        headers = dict(fault.headers or {})
        if fault.body is not None:
            return JSONResponse(fault.body, status_code=fault.status, headers=headers)
        failure = _default_error(fault.status)
        failure.status = fault.status
        failure.headers.update(headers)
        return _error_response(failure)

    async def _route(self, ctx: _Ctx) -> Response:
        method, path = ctx.request.method, ctx.request.url.path
        parts = path.strip("/").split("/")
        if parts[:2] == ["v1", "chatkit"]:
            rest = parts[2:]
            if method == "POST" and rest == ["sessions"]:
                return self._create_session(ctx)
            if method == "POST" and len(rest) == 3 and rest[0] == "sessions" and rest[2] == "cancel":
                return self._cancel_session(ctx, rest[1])
            if method == "GET" and rest == ["threads"]:
                return self._list_threads(ctx)
            if len(rest) == 2 and rest[0] == "threads" and method in ("GET", "DELETE"):
                return self._thread(ctx, rest[1], delete=method == "DELETE")
            if method == "GET" and len(rest) == 3 and rest[0] == "threads" and rest[2] == "items":
                return self._list_items(ctx, rest[1])
            if method == "POST" and rest == ["files"]:
                return await self._upload(ctx)
            if method == "POST" and rest == ["conversation"]:
                return self._conversation(ctx)
        raise ApiFailure(404, f"Invalid URL ({method} {path})")

    # ------------------------------------------------------------------------------------ auth

    def _check_api_key(self, ctx: _Ctx) -> None:
        token = _bearer(ctx.request)
        if token is None:
            raise ApiFailure(
                401,
                "You didn't provide an API key. You need to provide your API key in an Authorization header "
                "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                headers={"www-authenticate": 'Bearer realm="OpenAI API"'},
            )
        if token != self.api_key:
            raise ApiFailure(
                401,
                f"Incorrect API key provided: {mask_secret(token)}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
                headers={"www-authenticate": 'Bearer realm="OpenAI API"'},
            )
        beta = ctx.request.headers.get("openai-beta", "")
        if _BETA not in [v.strip() for v in beta.split(",")]:
            raise ApiFailure(
                400,
                "You must provide the 'OpenAI-Beta' header to access the ChatKit API. "
                f"Please try again by setting the header 'OpenAI-Beta: {_BETA}'.",
                code="invalid_beta",
            )

    def _session_for_secret(self, ctx: _Ctx) -> SessionRecord:
        """Authenticate a client-secret call and count it against the session's rate limit."""
        token = _bearer(ctx.request)
        headers = {"www-authenticate": 'Bearer realm="OpenAI API"'}
        with self._lock:
            now = self._now()
            session = self._sessions.get(self._by_secret.get(token or "", ""))
            if session is None or session.revoked:
                raise ApiFailure(401, "Invalid client secret provided.", code="invalid_api_key", headers=headers)
            if session.cancelled:
                raise ApiFailure(
                    401,
                    "The ChatKit session for this client secret was cancelled.",
                    code="invalid_api_key",
                    headers=headers,
                )
            if now >= session.expires_at:
                raise ApiFailure(401, "The client secret has expired.", code="invalid_api_key", headers=headers)
            window = [t for t in session.request_times if t > now - 60]
            if len(window) >= session.rate_limit:
                wait = max(1, math.ceil(window[0] + 60 - now))
                session.request_times = window
                raise ApiFailure(
                    429,
                    f"Rate limit reached for this ChatKit session: {session.rate_limit} requests per minute. "
                    f"Please try again in {wait}s.",
                    type="rate_limit_exceeded",
                    code="rate_limit_exceeded",
                    headers={"retry-after": str(wait)},
                )
            window.append(now)
            session.request_times = window
            return session

    def _json_body(self, ctx: _Ctx) -> dict[str, Any]:
        if not ctx.body_ok:
            raise ApiFailure(
                400,
                "We could not parse the JSON body of your request. The ChatKit API expects a JSON payload.",
            )
        if not isinstance(ctx.body, dict):
            raise ApiFailure(400, "The request body must be a JSON object.")
        return ctx.body

    # -------------------------------------------------------------------------------- sessions

    def _create_session(self, ctx: _Ctx) -> Response:
        self._check_api_key(ctx)
        body = self._json_body(ctx)
        SESSION_CREATE(body, "")
        workflow, configuration, seconds, rate = resolve_session(body)
        if self._known is not None and workflow["id"] not in self._known:
            raise ApiFailure(404, f"Workflow with id '{workflow['id']}' not found.")
        with self._lock:
            now = self._now()
            expires_at = math.floor(now) + seconds
            session = SessionRecord(
                id=new_id("cksess"),
                user=body["user"],
                client_secret=new_client_secret(expires_at),
                created_at=now,
                expires_at=expires_at,
                workflow=workflow,
                configuration=configuration,
                rate_limit=rate,
            )
            self._sessions[session.id] = session
            self._by_secret[session.client_secret] = session.id
            return JSONResponse(session.payload(now))

    def _cancel_session(self, ctx: _Ctx, session_id: str) -> Response:
        self._check_api_key(ctx)
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                raise not_found("Chatkit Session", session_id)
            session.cancelled = True
            return JSONResponse(session.payload(self._now()))

    # --------------------------------------------------------------------------------- threads

    def _list_threads(self, ctx: _Ctx) -> Response:
        self._check_api_key(ctx)
        query = ctx.request.query_params
        limit, order = _page_query(query)
        with self._lock:
            threads = sorted(self._threads.values(), key=lambda t: t.seq)
            if query.get("user") is not None:
                threads = [t for t in threads if t.user == query["user"]]
            page, has_more = paginate(
                threads,
                lambda t: t.id,
                order=order,
                after=query.get("after"),
                before=query.get("before"),
                limit=limit,
            )
            return JSONResponse(_list_envelope([rest_thread(t) for t in page], has_more))

    def _thread(self, ctx: _Ctx, thread_id: str, *, delete: bool) -> Response:
        self._check_api_key(ctx)
        with self._lock:
            thread = self._threads.get(thread_id)
            if thread is None:
                raise not_found("Thread", thread_id)
            if delete:
                del self._threads[thread_id]
                return JSONResponse({"id": thread_id, "object": "chatkit.thread.deleted", "deleted": True})
            return JSONResponse(rest_thread(thread))

    def _list_items(self, ctx: _Ctx, thread_id: str) -> Response:
        self._check_api_key(ctx)
        query = ctx.request.query_params
        limit, order = _page_query(query)
        with self._lock:
            thread = self._threads.get(thread_id)
            if thread is None:
                raise not_found("Thread", thread_id)
            page, has_more = paginate(
                thread.items,
                lambda i: i.id,
                order=order,
                after=query.get("after"),
                before=query.get("before"),
                limit=limit,
            )
            return JSONResponse(_list_envelope([rest_item(thread.id, i) for i in page], has_more))

    # ----------------------------------------------------------------------------------- files

    async def _upload(self, ctx: _Ctx) -> Response:
        session = self._session_for_secret(ctx)
        with self._lock:
            upload_cfg = session.configuration["file_upload"]
            if not upload_cfg["enabled"]:
                raise ApiFailure(
                    400,
                    "File uploads are disabled for this ChatKit session.",
                    code="chatkit.file_upload_disabled",
                )
            self._check_file_quota(session)
        if not ctx.request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise ApiFailure(400, "Expected a multipart/form-data body with a 'file' part.", param="file")
        limit_mb: int = upload_cfg["max_file_size"]
        try:
            form = await ctx.request.form(max_files=10, max_fields=100)
        except Exception as exc:
            raise ApiFailure(400, f"Could not parse the multipart body: {exc}", param="file") from exc
        try:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise ApiFailure(
                    400,
                    "Missing required parameter: 'file'.",
                    param="file",
                    code="missing_required_parameter",
                )
            mime = _resolve_mime(upload)
            if mime not in _ALLOWED_TYPES:
                raise ApiFailure(
                    400,
                    f"Unsupported file type '{mime}'. Supported types are PDF, PNG, JPEG, GIF and WEBP.",
                    param="file",
                    code="chatkit.file_upload_type_rejected",
                )
            # Read in chunks so a large upload is never held in memory; stop as soon as the limit is passed.
            digest = hashlib.sha256()
            size = 0
            while chunk := await upload.read(_READ_CHUNK):
                size += len(chunk)
                if size > limit_mb * 1024 * 1024:
                    raise ApiFailure(
                        400,
                        f"File exceeds the maximum size of {limit_mb} MB for this ChatKit session.",
                        param="file",
                        code="chatkit.file_too_large",
                    )
                digest.update(chunk)
            name = upload.filename
        finally:
            # Deletes the spooled temporary files.
            await form.close()
        with self._lock:
            self._check_file_quota(session)
            file_id = new_id("cfile")
            info = FileInfo(
                id=file_id,
                name=name,
                mime_type=mime,
                type=_ALLOWED_TYPES[mime],
                size=size,
                sha256=digest.hexdigest(),
                session_id=session.id,
                user=session.user,
                upload_url=f"{ctx.origin}/v1/chatkit/files/{file_id}",
            )
            self._files[file_id] = info
            session.files_uploaded += 1
        return JSONResponse(_file_payload(info))

    @staticmethod
    def _check_file_quota(session: SessionRecord) -> None:
        max_files = session.configuration["file_upload"]["max_files"]
        if session.files_uploaded >= max_files:
            raise ApiFailure(
                400,
                f"This ChatKit session has reached its limit of {max_files} uploaded files.",
                code="chatkit.file_upload_limit_reached",
            )

    # ---------------------------------------------------------------------------- conversation

    def _conversation(self, ctx: _Ctx) -> Response:
        session = self._session_for_secret(ctx)
        body = self._json_body(ctx)
        kind = body.get("type")
        if not isinstance(kind, str):
            raise ApiFailure(
                400, "Missing required parameter: 'type'.", param="type", code="missing_required_parameter"
            )
        validator = CONVERSATION_PARAMS.get(kind)
        if validator is None:
            raise ApiFailure(400, f"Unsupported request type '{kind}'.", param="type", code="invalid_value")
        if body.get("metadata") is not None and not isinstance(body["metadata"], dict):
            raise ApiFailure(
                400, "Invalid type for 'metadata': expected an object.", param="metadata", code="invalid_type"
            )
        params = body.get("params", {})
        validator(params, "params")
        with self._lock:
            if kind in STREAMING_TYPES:
                events = self._stream_request(session, kind, params, ctx.origin)
                faults = self._take_stream_faults()
                return _EventStream([_frame(e) for e in events], faults)
            return JSONResponse(self._json_request(session, kind, params))

    def _take_stream_faults(self) -> _StreamFaults | None:
        faults = self._stream_faults
        if faults is None:
            return None
        if faults.remaining is not None:
            faults.remaining -= 1
            if faults.remaining <= 0:
                self._stream_faults = None
        return faults

    def _thread_for(self, session: SessionRecord, thread_id: str) -> ThreadRecord:
        # Threads belong to the session's user; other users' threads look like they do not exist.
        thread = self._threads.get(thread_id)
        if thread is None or thread.user != session.user:
            raise not_found("Thread", thread_id)
        return thread

    def _json_request(self, session: SessionRecord, kind: str, params: dict[str, Any]) -> dict[str, Any]:
        if kind == "threads.list":
            threads = sorted((t for t in self._threads.values() if t.user == session.user), key=lambda t: t.seq)
            page, has_more = paginate(
                threads,
                lambda t: t.id,
                order=params.get("order") or "desc",
                after=params.get("after"),
                before=None,
                limit=params.get("limit") or _PAGE_SIZE,
            )
            return _protocol_page([protocol_thread(t) for t in page], has_more)
        thread = self._thread_for(session, params["thread_id"])
        if kind == "threads.get_by_id":
            return protocol_thread(thread, thread.items[:_PAGE_SIZE], has_more=len(thread.items) > _PAGE_SIZE)
        if kind == "items.list":
            items, has_more = paginate(
                thread.items,
                lambda i: i.id,
                order=params.get("order") or "desc",
                after=params.get("after"),
                before=None,
                limit=params.get("limit") or _PAGE_SIZE,
            )
            return _protocol_page([json.loads(json.dumps(i.data)) for i in items], has_more)
        if kind == "items.feedback":
            for item_id in params["item_ids"]:
                if thread.find(item_id) is None:
                    raise not_found("Thread item", item_id)
            self._feedback.append(Feedback(thread.id, tuple(params["item_ids"]), params["kind"]))
            return {}
        if kind == "threads.update":
            thread.title = params["title"]
            return protocol_thread(thread)
        if kind == "threads.delete":
            del self._threads[thread.id]
            return {}
        raise ApiFailure(400, f"Unsupported request type '{kind}'.", param="type")  # pragma: no cover

    def _stream_request(
        self, session: SessionRecord, kind: str, params: dict[str, Any], origin: str
    ) -> list[dict[str, Any]]:
        if kind == "threads.create":
            attachments = self._attachments(session, params["input"])
            now = self._now()
            thread = ThreadRecord(id=new_id("cthr"), user=session.user, created_at=now, seq=next(self._seq))
            self._threads[thread.id] = thread
            return self._user_turn(session, thread, params["input"], attachments, created=True)
        thread = self._thread_for(session, params["thread_id"])
        if kind == "threads.add_user_message":
            attachments = self._attachments(session, params["input"])
            return self._user_turn(session, thread, params["input"], attachments, created=False)
        if kind == "threads.add_client_tool_output":
            pending = [
                i for i in thread.items if i.data["type"] == "client_tool_call" and i.data["status"] == "pending"
            ]
            if not pending:
                raise ApiFailure(
                    400, f"Thread '{thread.id}' has no pending client tool call.", param="params.thread_id"
                )
            call = pending[-1].data
            call["status"] = "completed"
            call["output"] = params["result"]
            return self._respond(session, thread, f"Tool {call['name']} returned: {json.dumps(params['result'])}")
        if kind == "threads.retry_after_item":
            index = thread.find(params["item_id"])
            if index is None:
                raise not_found("Thread item", params["item_id"])
            user_item = thread.items[index]
            if user_item.data["type"] != "user_message":
                raise ApiFailure(400, f"Item '{user_item.id}' is not a user message.", param="params.item_id")
            del thread.items[index + 1 :]
            text = _text_of(user_item.data)
            files = tuple(self._files[a["id"]] for a in user_item.data.get("attachments", []) if a["id"] in self._files)
            return self._respond(session, thread, self._reply(Turn(thread.id, text, files, session.user)))
        if kind == "threads.custom_action":
            item_id = params.get("item_id")
            if item_id is not None and thread.find(item_id) is None:
                raise not_found("Thread item", item_id)
            return self._respond(session, thread, f"Action {params['action']['type']} received")
        raise ApiFailure(400, f"Unsupported request type '{kind}'.", param="type")  # pragma: no cover

    def _attachments(self, session: SessionRecord, user_input: dict[str, Any]) -> tuple[FileInfo, ...]:
        found = []
        for index, file_id in enumerate(user_input["attachments"]):
            info = self._files.get(file_id)
            if info is None or info.user != session.user:
                raise ApiFailure(400, f"Attachment '{file_id}' not found.", param=f"params.input.attachments[{index}]")
            found.append(info)
        return tuple(found)

    def _reply(self, turn: Turn) -> str | _ToolCall:
        match = _TOOL_PATTERN.match(turn.text.strip())
        if match:
            raw = match.group("args").strip()
            try:
                arguments = json.loads(raw) if raw else {}
            except ValueError:
                arguments = None
            if isinstance(arguments, dict):
                return _ToolCall(match.group("name"), arguments)
        if self._responder is not None:
            return self._responder(turn)
        text = f"You said: {turn.text}"
        if turn.attachments:
            text += " [attachments: " + ", ".join(a.name or a.id for a in turn.attachments) + "]"
        return text

    def _user_turn(
        self,
        session: SessionRecord,
        thread: ThreadRecord,
        user_input: dict[str, Any],
        attachments: tuple[FileInfo, ...],
        *,
        created: bool,
    ) -> list[dict[str, Any]]:
        now = self._now()
        events: list[dict[str, Any]] = []
        if created:
            events.append({"type": "thread.created", "thread": protocol_thread(thread)})
        item = _drop_none(
            {
                "id": new_id("cti"),
                "thread_id": thread.id,
                "created_at": iso_timestamp(now),
                "type": "user_message",
                "content": user_input["content"],
                "attachments": [_attachment(a) for a in attachments],
                "quoted_text": user_input.get("quoted_text") or "",
                "inference_options": user_input.get("inference_options") or {},
            }
        )
        thread.items.append(ItemRecord(now, item))
        events.append({"type": "thread.item.done", "item": item})
        reply = self._reply(Turn(thread.id, _text_of(item), attachments, session.user))
        title = None
        if created and session.configuration["automatic_thread_titling"]["enabled"]:
            title = _title_from(_text_of(item))
        return events + self._respond(session, thread, reply, title=title)

    def _respond(
        self,
        session: SessionRecord,
        thread: ThreadRecord,
        reply: str | _ToolCall,
        *,
        title: str | None = None,
    ) -> list[dict[str, Any]]:
        """The assistant's half of a turn, in the order observed from the hosted API; stores the items."""
        now = self._now()
        stamp = iso_timestamp(now)
        events: list[dict[str, Any]] = [{"type": "progress_update", "text": "Thinking…"}]
        workflow = {
            "id": new_id("cti"),
            "thread_id": thread.id,
            "created_at": stamp,
            "type": "workflow",
            "workflow": {"type": "reasoning", "tasks": [], "expanded": False},
            "response_items": [],
        }
        done_workflow = json.loads(json.dumps(workflow))
        done_workflow["workflow"]["summary"] = {"duration": 0}
        events.append({"type": "thread.item.added", "item": workflow})
        events.append({"type": "thread.item.done", "item": done_workflow})
        thread.items.append(ItemRecord(now, done_workflow))
        title_events: list[dict[str, Any]] = []
        if title is not None:
            thread.title = title
            title_events.append({"type": "thread.updated", "thread": protocol_thread(thread)})
        if isinstance(reply, _ToolCall):
            final: dict[str, Any] = {
                "id": new_id("cti"),
                "thread_id": thread.id,
                "created_at": stamp,
                "type": "client_tool_call",
                "status": "pending",
                "call_id": new_id("call"),
                "name": reply.name,
                "arguments": reply.arguments,
            }
            events += [*title_events, {"type": "thread.item.done", "item": final}]
        else:
            item_id = new_id("cti")
            base = {"id": item_id, "thread_id": thread.id, "created_at": stamp, "type": "assistant_message"}
            events.append({"type": "thread.item.added", "item": base | {"content": []}})
            empty_part = {"type": "output_text", "text": "", "annotations": []}
            events.append(
                _update(
                    item_id,
                    {
                        "type": "assistant_message.content_part.added",
                        "content_index": 0,
                        "content": empty_part,
                    },
                )
            )
            for delta in _DELTA_PATTERN.findall(reply):
                events.append(
                    _update(
                        item_id,
                        {
                            "type": "assistant_message.content_part.text_delta",
                            "content_index": 0,
                            "delta": delta,
                        },
                    )
                )
            part = {"type": "output_text", "text": reply, "annotations": []}
            events.append(
                _update(
                    item_id,
                    {"type": "assistant_message.content_part.done", "content_index": 0, "content": part},
                )
            )
            final = base | {"content": [part]}
            events += [*title_events, {"type": "thread.item.done", "item": final}]
        thread.items.append(ItemRecord(now, json.loads(json.dumps(final))))
        return events


# ---------------------------------------------------------------------------------------------------------
# helpers


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _error_response(failure: ApiFailure) -> Response:
    return JSONResponse(failure.body(), status_code=failure.status, headers=failure.headers)


def _page_query(query: Mapping[str, str]) -> tuple[int, str]:
    raw_limit = query.get("limit")
    limit = _PAGE_SIZE
    if raw_limit is not None:
        try:
            limit = int(raw_limit)
        except ValueError:
            raise ApiFailure(
                400,
                f"Invalid 'limit': expected an integer, got '{raw_limit}'.",
                param="limit",
                code="invalid_type",
            ) from None
        if not 1 <= limit <= 100:
            raise ApiFailure(
                400,
                f"Invalid 'limit': expected a value between 1 and 100, got {limit}.",
                param="limit",
                code="invalid_value",
            )
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise ApiFailure(
            400,
            f"Invalid value: '{order}'. Supported values are: 'asc' and 'desc'.",
            param="order",
            code="invalid_value",
        )
    return limit, order


def _list_envelope(data: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }


def _protocol_page(data: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    page: dict[str, Any] = {"data": data, "has_more": has_more}
    if has_more and data:
        page["after"] = data[-1]["id"]
    return page


def _resolve_mime(upload: UploadFile) -> str:
    declared = (upload.content_type or "").split(";")[0].strip().lower()
    declared = _MIME_ALIASES.get(declared, declared)
    if declared and declared != "application/octet-stream":
        return declared
    guessed, _ = mimetypes.guess_type(upload.filename or "")
    return _MIME_ALIASES.get(guessed or "", guessed or "application/octet-stream")


def _file_payload(info: FileInfo) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "type": info.type,
        "id": info.id,
        "name": info.name,
        "mime_type": info.mime_type,
        "upload_url": info.upload_url,
    }
    if info.type == "image":
        payload["preview_url"] = info.upload_url
    return payload


def _attachment(info: FileInfo) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": info.id,
        "name": info.name,
        "mime_type": info.mime_type,
        "upload_url": info.upload_url,
        "type": info.type,
    }
    if info.type == "image":
        out["preview_url"] = info.upload_url
    return out


def _text_of(item: Mapping[str, Any]) -> str:
    return "".join(str(p.get("text", "")) for p in item.get("content", []) if p.get("type") == "input_text")


def _update(item_id: str, update: dict[str, Any]) -> dict[str, Any]:
    return {"type": "thread.item.updated", "item_id": item_id, "update": update}


def _frame(event: Mapping[str, Any]) -> bytes:
    return b"data: " + json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


class _EventStream(StreamingResponse):
    """A `text/event-stream` answer that can misbehave on purpose (see `set_stream_faults`)."""

    def __init__(self, frames: list[bytes], faults: _StreamFaults | None) -> None:
        super().__init__(_no_body(), media_type="text/event-stream", headers={"cache-control": "no-cache"})
        self._frames = frames
        self._faults = faults

    async def stream_response(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        faults = self._faults
        drop_after = faults.drop_after_events if faults else None
        error_after = faults.error_after_events if faults else None
        for index in range(len(self._frames) + 1):
            if error_after is not None and index >= min(error_after, len(self._frames)):
                await self._write(send, _frame(faults.error if faults else {}))
                break
            if drop_after is not None and index >= min(drop_after, len(self._frames)):
                # Returning without the final body message makes uvicorn close the socket mid-body, so the
                # client sees an incomplete chunked response rather than a clean end.
                return
            if index == len(self._frames):
                break
            if index and faults and faults.event_delay:
                await asyncio.sleep(faults.event_delay)
            await self._write(send, self._frames[index])
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _write(self, send: Send, frame: bytes) -> None:
        if self._faults is not None and self._faults.byte_chunks:
            for offset in range(len(frame)):
                await send({"type": "http.response.body", "body": frame[offset : offset + 1], "more_body": True})
        else:
            await send({"type": "http.response.body", "body": frame, "more_body": True})


async def _no_body() -> AsyncIterator[bytes]:
    empty: tuple[bytes, ...] = ()
    for chunk in empty:
        yield chunk


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
