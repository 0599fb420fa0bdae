"""A ChatKit server on raw asyncio sockets that breaks HTTP on purpose, one scenario per path.

The first path segment names the scenario: `ChatKit(server_url=server.url("close_in_event"))` for a
self-hosted chat, `ChatKit(base_url=server.url("http503_session") + "/v1", api_key=...)` for hosted mode.
Hosted session creation (`.../chatkit/sessions`) answers a valid session unless the scenario is about it.
Every request is recorded (`server.requests(scenario)`) so tests can prove nothing was resent.

    with MisbehavingServer() as server:
        ChatKit(server_url=server.url("ok")).chat().send("hi").text  # "You said: hi"
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import threading
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

THREAD_ID = "thr_rel"
USER_ID = "msg_user"
ASSISTANT_ID = "msg_asst"
CLIENT_SECRET = "ek_reliability_SECRET_do_not_log_1234567890"
HUGE_DELTA_BYTES = 20 * 1024 * 1024


def event(obj: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


def delta(text: str, item_id: str = ASSISTANT_ID) -> dict[str, Any]:
    update = {"type": "assistant_message.content_part.text_delta", "content_index": 0, "delta": text}
    return {"type": "thread.item.updated", "item_id": item_id, "update": update}


def reply_events(text: str, words: list[str] | None = None) -> list[dict[str, Any]]:
    """A well-formed turn like the local server's: thread, user message, assistant message by word."""
    answer = f"You said: {text}"
    pieces = words if words is not None else [word + " " for word in answer.split(" ")[:-1]] + [answer.split(" ")[-1]]
    thread = {"id": THREAD_ID, "created_at": "2026-01-01T00:00:00", "status": {"type": "active"}, "metadata": {}}
    user = {
        "id": USER_ID,
        "thread_id": THREAD_ID,
        "created_at": "2026-01-01T00:00:00",
        "type": "user_message",
        "content": [{"type": "input_text", "text": text}],
        "attachments": [],
        "inference_options": {},
    }
    assistant = {
        "id": ASSISTANT_ID,
        "thread_id": THREAD_ID,
        "created_at": "2026-01-01T00:00:01",
        "type": "assistant_message",
        "content": [],
    }
    part = {"annotations": [], "text": "", "type": "output_text"}
    done_part = {**part, "text": "".join(pieces)}
    return [
        {"type": "thread.created", "thread": {**thread, "items": {"data": [], "has_more": False}}},
        {"type": "thread.item.done", "item": user},
        {"type": "thread.item.added", "item": assistant},
        {
            "type": "thread.item.updated",
            "item_id": ASSISTANT_ID,
            "update": {"type": "assistant_message.content_part.added", "content_index": 0, "content": part},
        },
        *[delta(piece) for piece in pieces],
        {
            "type": "thread.item.updated",
            "item_id": ASSISTANT_ID,
            "update": {"type": "assistant_message.content_part.done", "content_index": 0, "content": done_part},
        },
        {"type": "thread.item.done", "item": {**assistant, "content": [done_part]}},
    ]


def sse_body(events: list[dict[str, Any]]) -> bytes:
    return b"".join(event(obj) for obj in events)


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


SSE_HEADERS = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n"


def session_json() -> bytes:
    session = {
        "id": "cksess_rel",
        "object": "chatkit.session",
        "client_secret": CLIENT_SECRET,
        "expires_at": int(time.time()) + 3600,
        "status": "active",
        "user": "user_rel",
        "workflow": {"id": "wf_rel", "version": None, "state_variables": None, "tracing": {"enabled": True}},
        "rate_limits": {"max_requests_per_1_minute": 10},
        "max_requests_per_1_minute": 10,
        "chatkit_configuration": {
            "automatic_thread_titling": {"enabled": True},
            "file_upload": {"enabled": False, "max_file_size": 512, "max_files": 10},
            "history": {"enabled": True, "recent_threads": None},
        },
    }
    return json.dumps(session).encode()


@dataclass
class Request:
    scenario: str
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def user_text(self) -> str:
        try:
            return str(self.json["params"]["input"]["content"][0]["text"])
        except (TypeError, KeyError, IndexError, ValueError):
            return ""

    @property
    def is_session(self) -> bool:
        return self.path.endswith("/chatkit/sessions")


@dataclass
class Conn:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def respond(
        self, status: str, body: bytes, content_type: str = "application/json", extra: dict[str, str] | None = None
    ) -> None:
        head = f"HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {len(body)}\r\n"
        for name, value in (extra or {}).items():
            head += f"{name}: {value}\r\n"
        await self.send(head.encode() + b"\r\n" + body)

    async def sse(self, body: bytes, *, per_event: bool = True) -> None:
        """A complete chunked SSE answer, one chunk per event (as real servers flush them)."""
        data = SSE_HEADERS + b"\r\n"
        pieces = body.split(b"\n\n")[:-1] if per_event else [body[:-2]]
        data += b"".join(chunk(piece + b"\n\n") for piece in pieces) + b"0\r\n\r\n"
        await self.send(data)

    async def close(self) -> None:
        self.writer.close()

    async def reset(self) -> None:
        """Close with RST instead of FIN: SO_LINGER on, with a zero timeout."""
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()


Handler = Callable[[Conn, Request, "MisbehavingServer"], Awaitable[None]]
SCENARIOS: dict[str, Handler] = {}


def scenario(name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        SCENARIOS[name] = handler
        return handler

    return register


async def answer_normally(conn: Conn, req: Request) -> None:
    if req.is_session:
        await conn.respond("200 OK", session_json())
    else:
        await conn.sse(sse_body(reply_events(req.user_text)))


def first_attempt(server: MisbehavingServer, req: Request) -> bool:
    return len(server.requests(req.scenario)) == 1


def events_before_break(req: Request) -> bytes:
    """The thread, the user message and the first two words: what a break must not lose."""
    return sse_body(reply_events(req.user_text)[:6])


@scenario("ok")
async def _ok(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    await answer_normally(conn, req)


@scenario("close_in_headers")
async def _close_in_headers(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    await conn.send(b"HTTP/1.1 200 OK\r\ncontent-type: text/ev")
    await conn.close()


@scenario("close_before_response")
async def _close_before_response(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    await conn.close()


@scenario("close_in_chunk")
async def _close_in_chunk(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    # The chunk announces 4 KiB but the connection ends after the first events and half of another.
    body = events_before_break(req) + event(delta("lost"))[:20]
    await conn.send(SSE_HEADERS + b"\r\n" + f"{4096:x}\r\n".encode() + body)
    await conn.close()


@scenario("close_between_events")
async def _close_between_events(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    body = events_before_break(req)
    await conn.send(SSE_HEADERS + b"\r\n" + b"".join(chunk(piece + b"\n\n") for piece in body.split(b"\n\n")[:-1]))
    await conn.close()


@scenario("close_in_event")
async def _close_in_event(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    half = event(delta("lost"))[:30]
    await conn.send(SSE_HEADERS + b"\r\n" + chunk(events_before_break(req)) + chunk(half))
    await conn.close()


@scenario("reset_mid_stream")
async def _reset_mid_stream(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    await conn.send(SSE_HEADERS + b"\r\n" + chunk(events_before_break(req)))
    await asyncio.sleep(0.05)  # let the client read what was sent: an RST may discard unread data
    await conn.reset()


@scenario("reset_before_response")
async def _reset_before_response(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    await conn.reset()


@scenario("hang")
async def _hang(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    await server.stopping.wait()


@scenario("hang_mid_stream")
async def _hang_mid_stream(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    await conn.send(SSE_HEADERS + b"\r\n" + chunk(events_before_break(req)))
    await server.stopping.wait()


DRIP_BODY = event({"type": "progress_update", "text": "ok"})


@scenario("drip")
async def _drip(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    data = b"HTTP/1.1 200 OK\r\ncontent-type:text/event-stream\r\ncontent-length:%d\r\n\r\n" % len(DRIP_BODY)
    for index in range(len(data + DRIP_BODY)):
        await conn.send((data + DRIP_BODY)[index : index + 1])
        await asyncio.sleep(0.05)


@scenario("bad_json")
async def _bad_json(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    await conn.sse(events_before_break(req) + b'data: {"type": "thread.item.updated", "item_id": \n\n')


@scenario("not_utf8")
async def _not_utf8(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    body = sse_body(reply_events(req.user_text, words=["caf\udcff", " ok"]))
    # The placeholder surrogate marks where raw invalid bytes go (0xFF and a lone continuation byte).
    body = body.replace(b"\\udcff", b"\xff\x80")
    await conn.sse(body)


@scenario("huge_event")
async def _huge_event(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    await conn.sse(sse_body(reply_events(req.user_text, words=["x" * HUGE_DELTA_BYTES])))


HTML_502 = (
    b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>"
)
HTML_503 = b"<html><body><h1>503 Service Unavailable</h1><p>The upstream is overloaded.</p></body></html>"


@scenario("http502")
async def _http502(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    await conn.respond("502 Bad Gateway", HTML_502, "text/html")


@scenario("http503_once")
async def _http503_once(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    if first_attempt(server, req):
        await conn.respond("503 Service Unavailable", HTML_503, "text/html")
    else:
        await answer_normally(conn, req)


@scenario("http503_session")
async def _http503_session(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    if req.is_session:
        await conn.respond("503 Service Unavailable", HTML_503, "text/html")
    else:
        await answer_normally(conn, req)


@scenario("http502_session_once")
async def _http502_session_once(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    if req.is_session and first_attempt(server, req):
        await conn.respond("502 Bad Gateway", HTML_502, "text/html")
    else:
        await answer_normally(conn, req)


RATE_LIMIT_BODY = json.dumps(
    {"error": {"message": "Rate limit reached for requests", "type": "requests", "code": "rate_limit_exceeded"}}
).encode()


@scenario("r429_retry_after")
async def _r429_retry_after(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    if first_attempt(server, req):
        await conn.respond("429 Too Many Requests", RATE_LIMIT_BODY, extra={"Retry-After": "1"})
    else:
        await answer_normally(conn, req)


@scenario("r429_retry_after_ms")
async def _r429_retry_after_ms(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    if first_attempt(server, req):
        await conn.respond("429 Too Many Requests", RATE_LIMIT_BODY, extra={"retry-after-ms": "150"})
    else:
        await answer_normally(conn, req)


@scenario("r429_session_always")
async def _r429_session_always(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    if req.is_session:
        await conn.respond("429 Too Many Requests", RATE_LIMIT_BODY, extra={"retry-after-ms": "20"})
    else:
        await answer_normally(conn, req)


@scenario("r429_session_once")
async def _r429_session_once(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    if req.is_session and first_attempt(server, req):
        await conn.respond("429 Too Many Requests", RATE_LIMIT_BODY, extra={"Retry-After": "1"})
    else:
        await answer_normally(conn, req)


@scenario("json_not_sse")
async def _json_not_sse(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    if req.is_session:
        await answer_normally(conn, req)
    else:
        await conn.respond("200 OK", b'{"object": "thread", "id": "thr_1"}')


@scenario("html_not_sse")
async def _html_not_sse(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    await conn.respond("200 OK", b"<html><body>Please sign in</body></html>", "text/html")


@scenario("gzip")
async def _gzip(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    # Flushed per event, as a compressing proxy that streams would do.
    compressor = zlib.compressobj(wbits=31)
    out = SSE_HEADERS + b"content-encoding: gzip\r\n\r\n"
    for piece in sse_body(reply_events(req.user_text)).split(b"\n\n")[:-1]:
        out += chunk(compressor.compress(piece + b"\n\n") + compressor.flush(zlib.Z_SYNC_FLUSH))
    out += chunk(compressor.flush()) + b"0\r\n\r\n"
    await conn.send(out)


@scenario("gzip_corrupt_first")
async def _gzip_corrupt_first(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    body = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + b"\xff\xfe garbage, not deflate" * 4
    await conn.send(SSE_HEADERS + b"content-encoding: gzip\r\n\r\n" + chunk(body) + b"0\r\n\r\n")


@scenario("gzip_corrupt_mid")
async def _gzip_corrupt_mid(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    compressor = zlib.compressobj(wbits=31)
    good = compressor.compress(events_before_break(req)) + compressor.flush(zlib.Z_SYNC_FLUSH)
    await conn.send(SSE_HEADERS + b"content-encoding: gzip\r\n\r\n" + chunk(good))
    await asyncio.sleep(0.05)  # a separate read, so the good part is decoded before the bad one arrives
    await conn.send(chunk(b"\xff\xfe garbage, not deflate" * 4) + b"0\r\n\r\n")


@scenario("unknown_item_delta")
async def _unknown_item_delta(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    events = reply_events(req.user_text)
    events.insert(5, delta("ghost text", item_id="msg_never_announced"))
    await conn.sse(sse_body(events))


@scenario("duplicated_events")
async def _duplicated_events(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    body = b"".join(event(obj) * 2 for obj in reply_events(req.user_text))
    await conn.sse(body)


@dataclass
class MisbehavingServer:
    """Runs the scenarios on a free loopback port in a background thread (a context manager)."""

    host: str = "127.0.0.1"
    port: int = 0
    _requests: list[Request] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="misbehaving-server", daemon=True)
        self._server: asyncio.Server | None = None
        self.stopping = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    def url(self, scenario_name: str) -> str:
        if scenario_name not in SCENARIOS:
            raise KeyError(scenario_name)
        return f"http://{self.host}:{self.port}/{scenario_name}"

    def requests(self, scenario_name: str) -> list[Request]:
        with self._lock:
            return [req for req in self._requests if req.scenario == scenario_name]

    def conversation_requests(self, scenario_name: str) -> list[Request]:
        return [req for req in self.requests(scenario_name) if not req.is_session]

    def reset_log(self) -> None:
        with self._lock:
            self._requests.clear()

    def __enter__(self) -> MisbehavingServer:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _start(self) -> asyncio.Server:
        self.stopping = asyncio.Event()
        return await asyncio.start_server(self._serve, self.host, self.port)

    async def _stop(self) -> None:
        self.stopping.set()
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        conn = Conn(reader, writer)
        try:
            # Keep-alive: a client may reuse the connection, so serve requests until it closes.
            while not writer.is_closing():
                req = await self._read_request(reader)
                if req is None:
                    break
                with self._lock:
                    self._requests.append(req)
                handler = SCENARIOS.get(req.scenario)
                if handler is None:
                    await conn.respond("404 Not Found", b'{"error": {"message": "no such scenario"}}')
                    continue
                await handler(conn, req, self)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass  # the server is stopping; a handler that never answers ends here
        finally:
            self._tasks.discard(task)
            if not writer.is_closing():
                writer.close()

    async def _read_request(self, reader: asyncio.StreamReader) -> Request | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        path = target.split("?", 1)[0]
        return Request(path.strip("/").split("/", 1)[0], method, path, headers, body)
