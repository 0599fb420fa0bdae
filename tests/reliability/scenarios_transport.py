"""Transport-level faults (issue 13 items 1, 2, 3, 6, 13, 18, 22; issue 8's wrong endpoint) on raw sockets.

`TransportServer` is the `MisbehavingServer` that also reads chunked request bodies (an upload from a
stream of unknown size is sent that way) and records every request head as it arrives, before the
body, so a test can count attempts whose body never arrived whole. Scenarios register with the same
`@scenario` decorator; their names start with `t_`.

    with TransportServer() as server:
        ChatKit(server_url=server.url("t_stray_bytes")).chat().get_thread("thr_1")
"""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import time
from dataclasses import dataclass, field

from tests.reliability.misbehaving_server import (
    THREAD_ID,
    Conn,
    MisbehavingServer,
    Request,
    answer_normally,
    chunk,
    event,
    first_attempt,
    reply_events,
    scenario,
    sse_body,
)

# The server takes this long before answering, well past the read timeout the tests use.
SLOW_ANSWER_DELAY = 1.0
# A dripping server sends one byte per interval; the drip lasts far longer than any total timeout tested.
DRIP_INTERVAL = 0.1
DRIP_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nx-padding: " + b"p" * 200
BOMB_SIZE = 8 * 1024 * 1024


def thread_json(thread_id: str, title: str | None = None) -> bytes:
    thread = {
        "id": thread_id,
        "title": title,
        "created_at": "2026-01-01T00:00:00",
        "status": {"type": "active"},
        "metadata": {},
        "items": {"data": [], "has_more": False},
    }
    return json.dumps(thread).encode()


def request_type(req: Request) -> str:
    body = req.json
    return str(body.get("type", "")) if isinstance(body, dict) else ""


def uploaded_file(req: Request) -> bytes:
    """The bytes of the multipart part `file` of an upload request."""
    match = re.search(r"boundary=([^;]+)", req.headers.get("content-type", ""))
    assert match is not None, "not a multipart upload"
    boundary = match.group(1).strip('"').encode()
    for part in req.body.split(b"--" + boundary):
        head, sep, data = part.partition(b"\r\n\r\n")
        if sep and b'name="file"' in head:
            return data[: -len(b"\r\n")] if data.endswith(b"\r\n") else data
    raise AssertionError("no file part in the upload")


def attachment_json(req: Request) -> bytes:
    data = uploaded_file(req)
    return json.dumps({"id": f"att_{len(data)}", "type": "file", "name": "data.bin"}).encode()


@dataclass
class TransportServer(MisbehavingServer):
    """`MisbehavingServer` plus chunked request bodies and a log of request heads."""

    heads: list[str] = field(default_factory=list)
    # What a handler could finish before the client hung up, by scenario.
    finished: dict[str, bool] = field(default_factory=dict)

    def heads_for(self, scenario_name: str) -> int:
        """How many requests to the scenario began, once no new one has arrived for a moment (at most 3 s)."""
        seen, stable_since, give_up = -1, time.monotonic(), time.monotonic() + 3.0
        while time.monotonic() < give_up:
            with self._lock:
                count = sum(1 for name in self.heads if name == scenario_name)
            if count != seen:
                seen, stable_since = count, time.monotonic()
            elif count and time.monotonic() - stable_since > 0.2:
                break
            time.sleep(0.02)
        return seen

    def reset_log(self) -> None:
        super().reset_log()
        with self._lock:
            self.heads.clear()
            self.finished.clear()

    async def _read_request(self, reader: asyncio.StreamReader) -> Request | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            return None
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        path = target.split("?", 1)[0]
        name = path.strip("/").split("/", 1)[0]
        with self._lock:
            self.heads.append(name)
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                data = await reader.readexactly(size + 2)
                if size == 0:
                    break
                body += data[:-2]
        else:
            body = await reader.readexactly(int(headers.get("content-length", "0")))
        return Request(name, method, path, headers, body)


# -- item 1: a body that cannot be sent twice ------------------------------------------------------


@scenario("t_upload_503_once")
async def _upload_503_once(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    if first_attempt(server, req):
        await conn.respond("503 Service Unavailable", b"busy", "text/plain", extra={"retry-after-ms": "10"})
    else:
        await conn.respond("200 OK", attachment_json(req))


# -- items 2 and 3: requests the server may have taken ---------------------------------------------


@scenario("t_slow_answer")
async def _slow_answer(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    """Reads the whole request, then works on it past the client's read timeout before answering."""
    await asyncio.sleep(SLOW_ANSWER_DELAY)
    if request_type(req) == "threads.get_by_id":
        await conn.respond("200 OK", thread_json(THREAD_ID))
    else:
        await answer_normally(conn, req)


@scenario("t_drop_after_request")
async def _drop_after_request(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    """Reads the whole request (and may act on it), then closes the connection without an answer."""
    await conn.close()


@scenario("t_gateway_504")
async def _gateway_504(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    await conn.respond("504 Gateway Timeout", b"<html><h1>504 Gateway Timeout</h1></html>", "text/html")


# -- item 6: stray bytes after an answer -------------------------------------------------------------

STALE = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"


@scenario("t_stray_bytes")
async def _stray_bytes(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    """Answers request n with thread `thr_n`; the first answer is followed, in the same write, by a whole
    second answer (`thr_stale`), as a proxy with a wrong Content-Length would leave on the connection."""
    number = len(server.requests(req.scenario))
    stale_body = thread_json("thr_stale")
    stray = STALE % (len(stale_body), stale_body)
    if request_type(req) == "threads.get_by_id":
        body = thread_json(f"thr_{number}")
        head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(body)
        await conn.send(head + body + (stray if number == 1 else b""))
    else:  # a streamed message: a complete SSE answer, then the stray bytes
        data = b"".join(chunk(piece + b"\n\n") for piece in sse_body(reply_events(req.user_text)).split(b"\n\n")[:-1])
        out = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
        await conn.send(out + data + b"0\r\n\r\n" + (stray if number == 1 else b""))


# -- item 13: a compressed answer that inflates without end -------------------------------------------


@scenario("t_gzip_bomb")
async def _gzip_bomb(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    body = b'{"data": [], "has_more": false, "padding": "' + b"0" * BOMB_SIZE + b'"}'
    await conn.respond("200 OK", gzip.compress(body, 9), extra={"content-encoding": "gzip"})


# -- item 18: a server that never stops dripping -------------------------------------------------------


@scenario("t_drip_head")
async def _drip_head(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    """Sends the status line and headers one byte at a time: each read succeeds, none finishes the answer."""
    assert isinstance(server, TransportServer)
    server.finished[req.scenario] = False
    for index in range(len(DRIP_HEAD)):
        await conn.send(DRIP_HEAD[index : index + 1])
        await asyncio.sleep(DRIP_INTERVAL)
    await conn.send(b"\r\n\r\n{}")
    server.finished[req.scenario] = True


@scenario("t_drip_events")
async def _drip_events(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    """A turn whose events keep coming, one progress update per interval, for far longer than the test."""
    assert isinstance(server, TransportServer)
    server.finished[req.scenario] = False
    events = reply_events(req.user_text)
    await conn.send(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
    await conn.send(chunk(sse_body(events[:6])))
    for _ in range(300):
        await asyncio.sleep(DRIP_INTERVAL)
        await conn.send(chunk(event({"type": "progress_update", "text": "still working"})))
    await conn.send(chunk(sse_body(events[6:])) + b"0\r\n\r\n")
    server.finished[req.scenario] = True


# -- item 22: a file that changes size during its upload -----------------------------------------------


@scenario("t_upload_ok")
async def _upload_ok(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    await conn.respond("200 OK", attachment_json(req))


# -- issue 8: a URL that is not a ChatKit endpoint --------------------------------------------------------


@scenario("t_not_found")
async def _not_found(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    await conn.respond("404 Not Found", b'{"detail": "Not Found"}')


@scenario("t_method_not_allowed")
async def _method_not_allowed(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    await conn.respond("405 Method Not Allowed", b'{"detail": "Method Not Allowed"}', extra={"allow": "GET"})
