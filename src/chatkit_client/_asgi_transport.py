"""Talk to an ASGI app in the same process, streaming: `ChatKit(app=...)` and `AsyncChatKit(app=...)`.

httpx2's own `ASGITransport` runs the app to completion and hands back the buffered body, so a
test cannot see a ChatKit stream's first event before its last. `StreamingASGITransport` runs the
app as a task instead and hands each body chunk to the reader as the app sends it, through a
small window (the app waits when the reader falls `_WINDOW` chunks behind, as over a socket).

What happens when things go wrong, chosen to match what a client sees from a real server while
keeping an app's bugs visible in its tests:

- The app raises before it starts its answer: the exception itself is raised to the caller
  (`raise_app_exceptions=True`, the default, as Starlette's TestClient does), or the caller gets a
  bare 500 (`raise_app_exceptions=False`, what a server would send).
- The app raises, or returns, in the middle of its body: the body ends with `httpx2.ReadError`
  (the app's exception as its `__cause__`), as when a server drops the connection; the client
  turns that into its usual interrupted-stream error and keeps what arrived.
- The app raises after its body is complete (Starlette's error middleware sends a 500, then
  re-raises): with `raise_app_exceptions` the exception is raised when the response is closed.
- The reader closes the response early: the app's `receive()` answers `http.disconnect`, its
  `send()` raises `ClientDisconnected` (an `OSError`, ASGI 2.4), and its task is cancelled, so
  an openai-chatkit server runs its stream-cancelled handling as it does behind uvicorn.
- The app sends nothing for the request's read timeout: `httpx2.ReadTimeout`.

The lifespan protocol runs when asked (`lifespan=True`): start-up before the first request is
handed to the app, shutdown when the transport closes; the lifespan `state` is copied into each
request's scope, as servers do. An app that fails on the lifespan scope before reading its first
message does not speak the protocol, and is then served without it (uvicorn's `auto`).

`SyncInProcessTransport` serves a synchronous `httpx2.Client` from any of these async transports
by running them on a private event loop thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar

import httpx2

__all__ = [
    "ASGIApp",
    "ClientDisconnected",
    "StreamingASGITransport",
    "SyncInProcessTransport",
]

Message: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Message]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]
ASGIApp: TypeAlias = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]

T = TypeVar("T")

# Body chunks the app may send ahead of the reader before its `send()` waits.
_WINDOW = 16
# How long start-up, shutdown, and an app's exit after the response are waited for.
_LIFESPAN_TIMEOUT = 30.0
_EXIT_TIMEOUT = 10.0
# The most a sync reader takes per hop to the loop thread, from what the app has already sent.
_SYNC_BATCH = 64 * 1024


class ClientDisconnected(OSError):
    """Raised by `send()` once the client has closed the response (ASGI 2.4 asks for an `OSError`)."""


@dataclass(frozen=True)
class _End:
    """The app's task is over: returned (`error` None) or raised."""

    error: BaseException | None


def _read_timeout(request: httpx2.Request) -> float | None:
    timeout = request.extensions.get("timeout", {})
    value = timeout.get("read") if isinstance(timeout, dict) else None
    return float(value) if value is not None else None


async def _request_chunks(stream: Any) -> AsyncIterator[bytes]:
    """The request body as async chunks, whether the client that built it was sync or async."""
    if isinstance(stream, httpx2.AsyncByteStream):
        async for chunk in stream:
            yield chunk
        return
    # A purely synchronous body (a file or generator passed as content) is read off the event loop.
    iterator: Iterator[bytes] = iter(stream)

    def next_chunk() -> bytes | None:
        return next(iterator, None)

    while (piece := await asyncio.to_thread(next_chunk)) is not None:
        yield piece


class _Exchange:
    """One request/response between the client and the app running as a task."""

    def __init__(self, app: ASGIApp, scope: dict[str, Any], request: httpx2.Request, raise_app_exceptions: bool):
        self._app = app
        self._scope = scope
        self._request = request
        self._raise = raise_app_exceptions
        self._timeout = _read_timeout(request)
        self._body = _request_chunks(request.stream).__aiter__()
        self._request_done = False
        self._ahead: bytes | None = None
        self._messages: asyncio.Queue[Message | _End] = asyncio.Queue()
        self._window = asyncio.Semaphore(_WINDOW)
        self._closed_by_client = asyncio.Event()
        self._started = False
        self._sent_last = False  # the app sent its final body chunk
        self._read_last = False  # the reader took it
        self._closed = False
        self._error: BaseException | None = None
        self._pending: _End | None = None
        self._task: asyncio.Task[None] | None = None

    # -- the app's side ------------------------------------------------------------------------
    async def _body_chunk(self) -> bytes | None:
        """The next non-empty chunk of the request body, None at its end."""
        async for chunk in self._body:
            if chunk:
                return bytes(chunk)
        return None

    async def _receive(self) -> Message:
        if not self._request_done and not self._closed_by_client.is_set():
            # One chunk read ahead, so that the last one says more_body=False as servers do.
            chunk = self._ahead if self._ahead is not None else await self._body_chunk()
            self._ahead = None if chunk is None else await self._body_chunk()
            self._request_done = self._ahead is None
            return {"type": "http.request", "body": chunk or b"", "more_body": not self._request_done}
        await self._closed_by_client.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: Message) -> None:
        if self._closed_by_client.is_set():
            raise ClientDisconnected("the client closed the response")
        kind = message.get("type")
        if kind == "http.response.start":
            if self._started:
                raise RuntimeError("the app sent http.response.start twice")
            self._started = True
            self._messages.put_nowait(message)
        elif kind == "http.response.body":
            if not self._started:
                raise RuntimeError("the app sent http.response.body before http.response.start")
            if self._sent_last:
                raise RuntimeError("the app sent http.response.body after the response was complete")
            await self._window.acquire()
            # Set once queued: an app still waiting to hand over its last chunk is cancelled on close.
            self._sent_last = not message.get("more_body", False)
            self._messages.put_nowait(message)
        # Other messages (trailers, debug) are extensions this transport does not announce.

    async def _run(self) -> None:
        try:
            await self._app(self._scope, self._receive, self._send)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            # BaseException too: an app that dies of one must still end the response it owes.
            self._error = exc
            self._messages.put_nowait(_End(exc))
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
        else:
            self._messages.put_nowait(_End(None))

    # -- the client's side ---------------------------------------------------------------------
    async def _next(self) -> Message | _End:
        try:
            async with asyncio.timeout(self._timeout):
                item = await self._messages.get()
        except TimeoutError:
            raise httpx2.ReadTimeout(f"the app sent nothing for {self._timeout:g} s", request=self._request) from None
        return item

    async def start(self) -> httpx2.Response:
        self._task = asyncio.create_task(self._run(), name=f"asgi {self._scope['method']} {self._scope['path']}")
        try:
            first = await self._next()
        except BaseException:
            await self.close()
            raise
        if isinstance(first, _End):
            await self.close()
            error = first.error or RuntimeError("the ASGI app returned without sending a response")
            if self._raise:
                raise error
            return httpx2.Response(500, headers={"content-type": "text/plain; charset=utf-8"}, content=b"")
        return httpx2.Response(int(first["status"]), headers=list(first.get("headers", [])), stream=_ResponseBody(self))

    def _chunk(self, item: Message | _End) -> bytes:
        """The bytes of one body message; raises when the app ended without finishing its answer."""
        if isinstance(item, _End):
            self._read_last = True  # nothing more will come
            cause = item.error or RuntimeError("the ASGI app returned without completing its response")
            raise httpx2.ReadError(
                f"the app ended its response early: {type(cause).__name__}: {cause}", request=self._request
            ) from cause
        self._read_last = not item.get("more_body", False)
        if item.get("type") == "http.response.body":
            self._window.release()
        return b"" if self._request.method == "HEAD" else bytes(item.get("body", b""))

    async def read(self, batch: int = 0) -> bytes | None:
        """The next body bytes (None at the end), joined with up to `batch` bytes the app already sent.

        Batching never waits for more than is there; it spares the sync bridge a thread hop per chunk.
        """
        while not self._read_last:
            item, self._pending = self._pending or await self._next(), None
            data = self._chunk(item)
            while len(data) < batch and not self._read_last and not self._messages.empty():
                waiting = self._messages.get_nowait()
                if isinstance(waiting, _End):
                    self._pending = waiting  # what arrived is returned first; the failure on the next read
                    break
                data += self._chunk(waiting)
            if data:
                return data
        return None

    async def body(self) -> AsyncIterator[bytes]:
        while (data := await self.read()) is not None:
            yield data

    async def close(self) -> None:
        """Tell the app the client is gone; cancel it unless it already sent its whole answer."""
        if self._closed:
            return
        self._closed = True
        self._closed_by_client.set()
        task = self._task
        if task is None:
            return
        if not self._sent_last:
            await asyncio.sleep(0)  # one turn for an app awaiting receive() to see the disconnect
            task.cancel()
        done, _ = await asyncio.wait({task}, timeout=_EXIT_TIMEOUT)
        if not done:  # an app that outlives its response by this much is not waited for
            task.cancel()
            return
        if self._sent_last and self._error is not None and self._raise:
            raise self._error


class _ResponseBody(httpx2.AsyncByteStream):
    def __init__(self, exchange: _Exchange) -> None:
        self._exchange = exchange
        self._chunks: AsyncIterator[bytes] | None = None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self._chunks = self._exchange.body()
        async for chunk in self._chunks:
            yield chunk

    async def read(self, batch: int) -> bytes | None:
        """Everything the app has sent so far, up to about `batch` bytes, waiting only for the first chunk."""
        return await self._exchange.read(batch)

    async def aclose(self) -> None:
        chunks = self._chunks
        if chunks is not None and hasattr(chunks, "aclose"):
            await chunks.aclose()
        await self._exchange.close()


class _Lifespan:
    """The ASGI lifespan protocol for one app: start-up once, shutdown at close."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self.state: dict[str, Any] = {}
        self._lock: asyncio.Lock | None = None
        self._task: asyncio.Task[None] | None = None
        self._to_app: asyncio.Queue[Message] = asyncio.Queue()
        self._from_app: asyncio.Queue[Message | _End] = asyncio.Queue()
        self._received = False
        self._started = False
        self._supported = True

    async def _run(self) -> None:
        async def receive() -> Message:
            self._received = True
            return await self._to_app.get()

        async def send(message: Message) -> None:
            self._from_app.put_nowait(message)

        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": self.state}
        try:
            await self._app(scope, receive, send)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._from_app.put_nowait(_End(exc))
        else:
            self._from_app.put_nowait(_End(None))

    async def _exchange(self, message: str, expected: str) -> None:
        self._to_app.put_nowait({"type": message})
        try:
            async with asyncio.timeout(_LIFESPAN_TIMEOUT):
                answer = await self._from_app.get()
        except TimeoutError:
            raise RuntimeError(f"the app did not answer {message} within {_LIFESPAN_TIMEOUT:g} s") from None
        if isinstance(answer, _End):
            if answer.error is not None and not self._received:
                self._supported = False  # it failed on the scope itself: no lifespan support
                return
            raise RuntimeError(f"the app's lifespan ended during {message}") from answer.error
        if answer.get("type") != expected:
            detail = answer.get("message") or answer.get("type")
            raise RuntimeError(f"the app's {message} failed: {detail}")

    async def startup(self) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._started or not self._supported:
                return
            self._task = asyncio.create_task(self._run(), name="asgi lifespan")
            await self._exchange("lifespan.startup", "lifespan.startup.complete")
            self._started = self._supported

    async def shutdown(self) -> None:
        if not self._started or self._task is None:
            return
        self._started = False
        try:
            await self._exchange("lifespan.shutdown", "lifespan.shutdown.complete")
        finally:
            await asyncio.wait({self._task}, timeout=_EXIT_TIMEOUT)
            self._task.cancel()


class StreamingASGITransport(httpx2.AsyncBaseTransport):
    """An httpx2 transport that runs an ASGI app in the caller's event loop and streams its answers.

    >>> transport = StreamingASGITransport(app, lifespan=True)  # doctest: +SKIP
    >>> async with httpx2.AsyncClient(transport=transport, base_url="http://testserver") as client:  # doctest: +SKIP
    ...     async with client.stream("POST", "/chatkit", json=request) as response:
    ...         async for line in response.aiter_lines(): ...
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        lifespan: bool = False,
        raise_app_exceptions: bool = True,
        root_path: str = "",
        client: tuple[str, int] = ("127.0.0.1", 50000),
    ) -> None:
        self.app = app
        self.raise_app_exceptions = raise_app_exceptions
        self.root_path = root_path
        self.client = client
        self._lifespan = _Lifespan(app) if lifespan else None

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if self._lifespan is not None:
            await self._lifespan.startup()
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": request.url.scheme,
            "path": request.url.path,
            "raw_path": request.url.raw_path.split(b"?")[0],
            "query_string": request.url.query,
            "root_path": self.root_path,
            "headers": [(name.lower(), value) for name, value in request.headers.raw],
            "server": (request.url.host, request.url.port or (443 if request.url.scheme == "https" else 80)),
            "client": self.client,
        }
        if self._lifespan is not None:
            # Each request gets a shallow copy, so one request's additions do not leak into the next.
            scope["state"] = dict(self._lifespan.state)
        return await _Exchange(self.app, scope, request, self.raise_app_exceptions).start()

    async def aclose(self) -> None:
        if self._lifespan is not None:
            await self._lifespan.shutdown()


class _LoopThread:
    """A private event loop on a daemon thread, started on first use."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def started(self) -> bool:
        return self._loop is not None

    def _ensure(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name=self._name, daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None) -> T:
        """Run `coro` on the loop and wait for it; past `timeout` it is cancelled (ReadTimeout)."""
        future = asyncio.run_coroutine_threadsafe(coro, self._ensure())
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise httpx2.ReadTimeout(f"the in-process app did not answer within {timeout:g} s") from None

    def stop(self) -> None:
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return

        async def cancel_the_rest() -> None:
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=_EXIT_TIMEOUT)
            await asyncio.get_running_loop().shutdown_asyncgens()

        asyncio.run_coroutine_threadsafe(cancel_the_rest(), loop).result(_EXIT_TIMEOUT + 1)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(_EXIT_TIMEOUT)
        loop.close()


class _SyncBody(httpx2.SyncByteStream):
    """A response body produced on the loop thread, read from the caller's thread."""

    def __init__(self, stream: Any, loop: _LoopThread, timeout: float | None) -> None:
        self._stream = stream
        self._loop = loop
        self._timeout = timeout
        self._chunks: AsyncIterator[bytes] | None = None

    def __iter__(self) -> Iterator[bytes]:
        stream = self._stream
        if isinstance(stream, _ResponseBody):

            async def step() -> bytes | None:
                return await stream.read(_SYNC_BATCH)

        else:
            chunks = stream.__aiter__()
            self._chunks = chunks

            async def step() -> bytes | None:
                try:
                    return bytes(await chunks.__anext__())
                except StopAsyncIteration:
                    return None

        while (chunk := self._loop.run(step(), self._timeout)) is not None:
            yield chunk

    def close(self) -> None:
        chunks = self._chunks

        async def close() -> None:
            if chunks is not None and hasattr(chunks, "aclose"):
                await chunks.aclose()
            await self._stream.aclose()

        self._loop.run(close(), _EXIT_TIMEOUT + 1)


class SyncInProcessTransport(httpx2.BaseTransport):
    """Serves a synchronous `httpx2.Client` from an async in-process transport on a private loop thread.

    The app (or ChatKit server) lives on that one loop for the client's whole life, so objects it
    creates at start-up stay usable; `close()` closes the inner transport there, then stops the loop.

    >>> client = httpx2.Client(transport=SyncInProcessTransport(StreamingASGITransport(app)))  # doctest: +SKIP
    """

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self._inner = inner
        self._loop = _LoopThread("chatkit-in-process")

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        read = _read_timeout(request)
        # The inner transport enforces the read timeout itself; this bound only guards against an app
        # that blocks its event loop (and so cannot time itself out).
        bound = None if read is None else read + 5.0
        bridged = httpx2.Request(
            request.method,
            request.url,
            headers=request.headers,
            stream=_AsyncRequestBody(request.stream),
            extensions=request.extensions,
        )
        response = self._loop.run(self._inner.handle_async_request(bridged), bound)
        return httpx2.Response(
            response.status_code,
            headers=response.headers,
            stream=_SyncBody(response.stream, self._loop, bound),
            extensions=response.extensions,
        )

    def close(self) -> None:
        if not self._loop.started:
            return
        try:
            self._loop.run(self._inner.aclose(), _LIFESPAN_TIMEOUT + 1)
        finally:
            self._loop.stop()


class _AsyncRequestBody(httpx2.AsyncByteStream):
    def __init__(self, stream: Any) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in _request_chunks(self._stream):
            yield chunk
