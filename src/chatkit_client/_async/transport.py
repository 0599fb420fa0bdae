"""`AsyncTransport`: sends `RequestSpec`s over one pooled httpx2 client, with the one retry loop.

May import httpx2, `_http` (everything not specific to async: errors, bodies, clocks, logging),
`_connection_guards`, the shared vocabulary and `_core`; never a shell. `_sync/transport.py` is generated
from this file (`scripts/unasync.py`), so every line here must read right without `async`/`await`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from types import TracebackType

import httpx2

from .._connection_guards import FramingGuard, deadline_scope, watch_deadlines
from .._constants import DEFAULT_MAX_RESPONSE_SIZE
from .._core.requests import ApiResponse, RequestSpec
from .._exceptions import APIConnectionError
from .._http import (
    DEFAULT_TIMEOUT,
    Attempts,
    Clock,
    Collector,
    StreamBase,
    TimeoutTypes,
    TransportBase,
    failed_after_status,
    log_response,
    translate_errors,
)
from .._sentinels import NOT_GIVEN, NotGiven

__all__ = ["AsyncByteStream", "AsyncTransport"]


async def _chunks_within(chunks: AsyncIterator[bytes], clock: Clock) -> AsyncIterator[bytes]:
    """`chunks`, each read under the clock's deadline, ending with a total timeout once it has passed."""
    try:
        while True:
            with deadline_scope(clock.deadline):
                chunk = await anext(chunks, None)
            if chunk is None:
                return
            clock.check()
            yield chunk
    finally:
        await chunks.aclose()  # type: ignore[attr-defined]


class AsyncByteStream(StreamBase):
    """The body of a 2xx streaming answer; iterating it raises our connection errors, not httpx2's."""

    def __init__(
        self, spec: RequestSpec, headers: Mapping[str, str], first: bytes, rest: AsyncIterator[bytes], clock: Clock
    ) -> None:
        super().__init__(spec, headers, first, clock)
        self._rest = rest

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._first:
            yield self._first
        with translate_errors(self._spec.method, self._spec.url, self._clock):
            async for chunk in self._rest:
                yield chunk


class _OpenStream:
    """`AsyncTransport.stream`: sends on entry, yields the body once its first bytes arrived, closes it on exit.

    A class, not a generator-based context manager: one request's path steps no generator of ours.
    """

    def __init__(self, transport: AsyncTransport, attempts: Attempts) -> None:
        self._transport = transport
        self._attempts = attempts
        self._response: httpx2.Response | None = None
        self._chunks: AsyncIterator[bytes] | None = None

    async def __aenter__(self) -> AsyncByteStream:
        attempts = self._attempts
        spec, clock = attempts.spec, attempts.clock
        response, _ = await self._transport._answer(attempts, streamed=True)
        self._response = response
        # With no total timeout there is no deadline to put around each read, nor one to check after it.
        raw = response.aiter_bytes()
        chunks = self._chunks = raw if clock.deadline is None else _chunks_within(raw, clock)
        try:
            try:
                with translate_errors(spec.method, spec.url, clock):
                    first = await anext(chunks, b"")
            except APIConnectionError as err:
                # A failure before the first byte of a 2xx answer is raised, never resent: the server took it.
                raise failed_after_status(err, response) from err.__cause__
        except BaseException:
            await self._close()
            raise
        return AsyncByteStream(spec, response.headers, first, chunks, clock)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._close()

    async def _close(self) -> None:
        chunks, response = self._chunks, self._response
        self._chunks = self._response = None
        if chunks is not None:
            await chunks.aclose()  # type: ignore[attr-defined]
        if response is not None:
            await response.aclose()


class AsyncTransport(TransportBase):
    """Sends requests with one pooled `httpx2.AsyncClient`; safe to share between concurrent callers."""

    def __init__(
        self,
        *,
        http_client: httpx2.AsyncClient | None = None,
        timeout: httpx2.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        total_timeout: float | None = None,
        max_response_size: int | None = DEFAULT_MAX_RESPONSE_SIZE,
    ) -> None:
        super().__init__(
            timeout=timeout, max_retries=max_retries, total_timeout=total_timeout, max_response_size=max_response_size
        )
        self._owns_client = http_client is None
        self.client = http_client if http_client is not None else httpx2.AsyncClient(timeout=timeout)
        watch_deadlines(self.client, is_async=True)  # unasync: watch_deadlines(self.client, is_async=False)

    async def close(self) -> None:
        if self._owns_client:
            await self.client.aclose()

    async def request(
        self, spec: RequestSpec, *, timeout: TimeoutTypes | NotGiven = NOT_GIVEN, max_retries: int | None = None
    ) -> ApiResponse:
        """Send `spec`, again when `_core.retry` allows, and read its 2xx answer whole."""
        response, content = await self._answer(self._attempts(spec, timeout, max_retries), streamed=False)
        return ApiResponse(response.status_code, response.headers, content, response.headers.get("x-request-id"))

    def stream(
        self, spec: RequestSpec, *, timeout: TimeoutTypes | NotGiven = NOT_GIVEN, max_retries: int | None = None
    ) -> _OpenStream:
        """Open a streaming request (`async with`); the body is closed when the block ends."""
        return _OpenStream(self, self._attempts(spec, timeout, max_retries))

    async def _answer(self, attempts: Attempts, *, streamed: bool) -> tuple[httpx2.Response, bytes]:
        """The one retry loop, for plain and streamed requests: attempt; after a failure, ask `attempts` how
        long to wait (it raises instead when the request must not be sent again), wait, attempt again.

        Returns the 2xx answer and its body, read whole; or, `streamed`, the answer still open and `b""`.
        """
        while True:
            try:
                response, content = await self._attempt(attempts, streamed=streamed)
            except APIConnectionError as err:
                delay = attempts.delay_after_error(err)
            else:
                if response.is_success:
                    return response, content
                delay = attempts.delay_after_status(response, content)
            await _sleep(delay)

    async def _attempt(self, attempts: Attempts, *, streamed: bool) -> tuple[httpx2.Response, bytes]:
        """Send once and read the answer whole, but leave a 2xx answer to a `streamed` request open."""
        spec, clock = attempts.spec, attempts.clock
        started = time.perf_counter()
        with translate_errors(spec.method, spec.url, clock):
            response = await self._send(attempts)
            log_response(spec, response, started)
            if streamed and response.is_success:
                return response, b""
            collector = Collector.for_answer(spec, response, self.max_response_size)
            try:
                return response, await self._read(response, collector, clock)
            finally:
                await response.aclose()

    async def _send(self, attempts: Attempts) -> httpx2.Response:
        guard = FramingGuard(attempts.spec.method, attempts.spec.url)
        request = self._build(self.client, attempts, guard.atrace)
        with deadline_scope(attempts.clock.deadline):
            response = await self.client.send(request, stream=True)
        guard.attach(response.stream)
        return response

    async def _read(self, response: httpx2.Response, collector: Collector, clock: Clock) -> bytes:
        chunks = _chunks_within(response.aiter_bytes(), clock)
        try:
            async for chunk in chunks:
                if not collector.add(chunk):
                    break
        finally:
            await chunks.aclose()  # type: ignore[attr-defined]
        return collector.content()


async def _sleep(seconds: float) -> None:
    # The async transport imports asyncio on its first wait, not with its module: the sync client loads that
    # module too (through `_client`), and must never load asyncio.
    import asyncio  # unasync: import time

    await asyncio.sleep(seconds)
