"""The replay server: a ChatKit stream, pre-encoded once, written to every request as fast as the socket takes it.

It runs in a child process (its CPU never shares the GIL with the client measured) and costs almost
nothing per event: each answer is one `write` of bytes built before the first request, so the client,
not the server, sets the pace. The URL path picks the answer:

- `/chatkit/<deltas>`: a turn of `<deltas>` text deltas with a `Content-Length` body;
- `/chatkit/<deltas>/chunked`: the same turn with `Transfer-Encoding: chunked`, one chunk per event (as
  streaming servers send it).

The turn is what a ChatKit server streams for a new thread: `thread.created`, the user message's
`thread.item.done`, `thread.item.added` (assistant message), `content_part.added`, the deltas `"w0 "`,
`"w1 "`, ..., `content_part.done` and `thread.item.done`. Every request gets the same thread id, so a
conversation of several turns works too. Connections are kept alive; the request body is read and ignored.

```python
with replay_server() as server:
    ChatKit(server_url=server.url(200)).chat().send("hi").text  # 'w0 w1 ... w199 '
```
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ReplayServer", "encode_turn", "expected_text", "replay_server", "sse_events"]

_THREAD = "thr_replay"
_MESSAGE = "msg_replay"
_CREATED = "2026-01-01T00:00:00"
_MAX_DELTAS = 1_000_000


def expected_text(deltas: int) -> str:
    """The reply text of a turn of `deltas` deltas."""
    return "".join(f"w{i} " for i in range(deltas))


def sse_events(deltas: int) -> list[bytes]:
    """The turn's SSE events, each `data: {...}\\n\\n`."""
    thread = {
        "id": _THREAD,
        "created_at": _CREATED,
        "status": {"type": "active"},
        "metadata": {},
        "items": {"data": [], "has_more": False},
    }
    user = {
        "id": "msg_user",
        "thread_id": _THREAD,
        "created_at": _CREATED,
        "type": "user_message",
        "content": [{"type": "input_text", "text": "replay"}],
        "attachments": [],
        "inference_options": {},
    }
    text = expected_text(deltas)
    done_content = {"annotations": [], "text": text, "type": "output_text"}
    assistant = {"id": _MESSAGE, "thread_id": _THREAD, "created_at": _CREATED, "type": "assistant_message"}
    events: list[object] = [
        {"type": "thread.created", "thread": thread},
        {"type": "thread.item.done", "item": user},
        {"type": "thread.item.added", "item": {**assistant, "content": []}},
        {
            "type": "thread.item.updated",
            "item_id": _MESSAGE,
            "update": {
                "type": "assistant_message.content_part.added",
                "content_index": 0,
                "content": {"annotations": [], "text": "", "type": "output_text"},
            },
        },
    ]
    encoded = [b"data: " + json.dumps(e, separators=(",", ":")).encode() + b"\n\n" for e in events]
    head = b'data: {"type":"thread.item.updated","item_id":"' + _MESSAGE.encode()
    head += b'","update":{"type":"assistant_message.content_part.text_delta","content_index":0,"delta":"'
    encoded += [head + f"w{i} ".encode() + b'"}}\n\n' for i in range(deltas)]
    tail: list[object] = [
        {
            "type": "thread.item.updated",
            "item_id": _MESSAGE,
            "update": {"type": "assistant_message.content_part.done", "content_index": 0, "content": done_content},
        },
        {"type": "thread.item.done", "item": {**assistant, "content": [done_content]}},
    ]
    encoded += [b"data: " + json.dumps(e, separators=(",", ":")).encode() + b"\n\n" for e in tail]
    return encoded


def encode_turn(deltas: int, *, chunked: bool) -> bytes:
    """A whole HTTP/1.1 response (status line, headers, body) answering with the turn."""
    events = sse_events(deltas)
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
    if chunked:
        body = b"".join(b"%x\r\n%s\r\n" % (len(e), e) for e in events) + b"0\r\n\r\n"
        return head + b"transfer-encoding: chunked\r\n\r\n" + body
    body = b"".join(events)
    return head + b"content-length: %d\r\n\r\n" % len(body) + body


_NOT_FOUND = b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"


class _Replayer:
    def __init__(self) -> None:
        self.cache: dict[str, bytes] = {}

    def answer(self, path: bytes) -> bytes:
        key = path.decode("latin-1")
        found = self.cache.get(key)
        if found is None:
            parts = key.strip("/").split("/")
            try:
                if parts[0] != "chatkit" or len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] != "chunked"):
                    raise ValueError(key)
                deltas = int(parts[1])
                if not 0 <= deltas <= _MAX_DELTAS:
                    raise ValueError(key)
            except (ValueError, IndexError):
                return _NOT_FOUND
            found = self.cache[key] = encode_turn(deltas, chunked=len(parts) == 3)
        return found

    async def connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, _, rest = head.partition(b"\r\n")
                length = 0
                for line in rest.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                if length:
                    await reader.readexactly(length)
                writer.write(self.answer(request_line.split(b" ")[1]))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, IndexError, ValueError):
            pass
        finally:
            writer.close()


async def _serve() -> None:
    import socket

    replayer = _Replayer()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = await asyncio.start_server(replayer.connection, sock=sock, backlog=4096, limit=1 << 20)
    print(json.dumps({"origin": f"http://127.0.0.1:{sock.getsockname()[1]}"}), flush=True)
    loop = asyncio.get_running_loop()
    # Serve until the parent closes our stdin (or dies, which closes it too).
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


@dataclass(frozen=True)
class ReplayServer:
    """Where the replay child listens."""

    origin: str
    pid: int

    def url(self, deltas: int, *, chunked: bool = False) -> str:
        """The `server_url` whose every turn is `deltas` text deltas."""
        return f"{self.origin}/chatkit/{deltas}" + ("/chunked" if chunked else "")


@contextmanager
def replay_server() -> Iterator[ReplayServer]:
    """Run the replay server in a child process until the block ends."""
    from bench._servers import child_server

    root = str(Path(__file__).resolve().parent.parent)
    with child_server(["-m", "bench._replay"], cwd=root, stop_timeout=10) as info:
        yield ReplayServer(origin=info["origin"], pid=info["pid"])


if __name__ == "__main__":
    asyncio.run(_serve())
