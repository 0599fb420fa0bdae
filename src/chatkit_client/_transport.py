"""HTTP for chatkit-client: the only module that imports httpx2.

It sends `RequestSpec`s built elsewhere, retries them by the pure policy in `_retry` (which says
what is sent again and why), translates httpx2's exceptions into ours in one place
(`translate_errors`), and logs each attempt without headers, so no credential can reach a log line.

Three guards live here because only the HTTP layer can hold them:

- **Bounded answers.** Every body is read incrementally: a non-streamed answer stops at
  `max_response_size` (decompressed) with `ResponseTooLargeError`, an error body at 64 KiB.
- **Total timeout.** `timeout` bounds each connect, read and write (httpx2's meaning);
  `total_timeout` bounds a whole request, retries and waits included, and a streamed answer until
  its last byte. Each socket operation's timeout is cut to the time left (`_connection_guards`),
  so a server dripping one byte a second cannot outlast it.
- **Connections in step.** Bytes left over after an answer (a wrong Content-Length from a server
  or proxy) would be read as the *next* request's answer on that keep-alive connection. After each
  answer the connection's h11 state is inspected (`_connection_guards.FramingGuard`); one with
  stray bytes is closed instead of going back to the pool.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import IO, Any, TypeAlias

import httpx2

from ._connection_guards import MIN_WAIT, FramingGuard, deadline_scope, watch_deadlines
from ._constants import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_RESPONSE_SIZE,
    DEFAULT_READ_TIMEOUT,
    LOGGER_NAME,
    MAX_ERROR_BODY,
)
from ._core.redact import redact_url
from ._core.requests import ApiResponse, RequestSpec, media_type
from ._core.retry import BODY_NOTE, Reach, retry_decision
from ._exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    BodyFailedAfterStatusError,
    InvalidInputError,
    ResponseTooLargeError,
    error_message_from_body,
    status_error_class,
)
from ._sentinels import NOT_GIVEN, NotGiven

__all__ = [
    "DEFAULT_TIMEOUT",
    "ApiResponse",
    "AsyncByteStream",
    "AsyncTransport",
    "ByteStream",
    "HttpxAsyncClient",
    "HttpxClient",
    "RequestSpec",
    "SyncTransport",
    "Timeout",
    "TimeoutTypes",
]

log = logging.getLogger(LOGGER_NAME)

Timeout = httpx2.Timeout
HttpxClient = httpx2.Client
HttpxAsyncClient = httpx2.AsyncClient
TimeoutTypes: TypeAlias = "float | httpx2.Timeout | None"
DEFAULT_TIMEOUT = httpx2.Timeout(DEFAULT_READ_TIMEOUT, connect=DEFAULT_CONNECT_TIMEOUT)

# A timeout that fires this close to the deadline is the deadline's.
_DEADLINE_SLACK = 0.05


def _to_timeout(value: TimeoutTypes | NotGiven, default: httpx2.Timeout) -> httpx2.Timeout:
    if isinstance(value, NotGiven):
        return default
    if isinstance(value, httpx2.Timeout):
        return value
    return httpx2.Timeout(value)


# -- total timeout ---------------------------------------------------------------------------------


class _TotalTimeout(Exception):
    """Raised between two chunks of an answer once the total timeout has passed."""


@dataclass(frozen=True)
class _Clock:
    """A request's total timeout: `total` seconds from its start (None: no limit)."""

    total: float | None
    deadline: float | None

    @classmethod
    def start(cls, total: float | None) -> _Clock:
        return cls(total, None if total is None else time.monotonic() + total)

    def left(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def expired(self) -> bool:
        left = self.left()
        return left is not None and left <= _DEADLINE_SLACK

    def clamp(self, timeout: httpx2.Timeout) -> httpx2.Timeout:
        """Each phase's timeout cut to the time left, for transports the backend wrapper cannot reach."""
        left = self.left()
        if left is None:
            return timeout
        left = max(left, MIN_WAIT)

        def cut(value: float | None) -> float:
            return left if value is None else min(value, left)

        return httpx2.Timeout(
            connect=cut(timeout.connect), read=cut(timeout.read), write=cut(timeout.write), pool=cut(timeout.pool)
        )

    def check(self) -> None:
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise _TotalTimeout


def _deadline_scope(clock: _Clock) -> AbstractContextManager[None]:
    return deadline_scope(clock.deadline)


# -- request bodies that can or cannot be sent twice ---------------------------------------------


def _start_of(handle: object) -> int | None:
    """Where a file object's remaining content starts, or None when it cannot be rewound."""
    seekable = getattr(handle, "seekable", None)
    try:
        if callable(seekable) and not seekable():
            return None
        if not callable(getattr(handle, "seek", None)):
            return None
        position = handle.tell()  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return None
    return position if isinstance(position, int) else None


class _ReadOnly:
    """A file object that cannot be rewound, shown to httpx2 with `read` alone: it is then sent chunked,
    instead of with a length httpx2 would take from `fstat` (0 for a pipe, so the upload would fail)."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle

    def read(self, size: int = -1) -> bytes:
        return self._handle.read(size)


class _Body:
    """The file objects of a request body and where each started, so every attempt sends them whole."""

    def __init__(self, spec: RequestSpec) -> None:
        handles: list[object] = [part[1] for part in (spec.files or {}).values()]
        if spec.content is not None and not isinstance(spec.content, bytes | bytearray | memoryview):
            handles.append(spec.content)
        self.replayable = True
        self._starts: list[tuple[Any, int]] = []
        for handle in handles:
            start = _start_of(handle)
            if start is None:
                self.replayable = False
            else:
                self._starts.append((handle, start))
        self.files: dict[str, Any] | None = None
        if spec.files:
            self.files = {
                name: (filename, handle if _start_of(handle) is not None else _ReadOnly(handle), mime)
                for name, (filename, handle, mime) in spec.files.items()
            }

    def rewind(self) -> bool:
        """Put every file object back where it started; False if one refuses (then it is not resent)."""
        try:
            for handle, start in self._starts:
                handle.seek(start)
        except (OSError, ValueError):
            return False
        return True


# -- errors -----------------------------------------------------------------------------------


def _is_local_protocol_error(err: BaseException) -> bool:
    """h11's LocalProtocolError (our request broke HTTP): raised raw by httpcore2 while sending a body."""
    return any(cls.__name__ == "LocalProtocolError" for cls in type(err).__mro__)


def _local_error(err: BaseException, method: str, url: str) -> Exception:
    # Never echo the text: h11 quotes the offending header value, which may be a credential.
    if "content-length" in str(err).lower():
        return InvalidInputError(
            "file",
            f"a file changed size while it was being uploaded by {method} {url} (it no longer matches the length "
            "announced in the request); the upload was stopped and not retried: send it again once the file "
            "has stopped changing",
        )
    detail = f"the request is not valid HTTP ({type(err).__name__})"
    if isinstance(err, httpx2.UnsupportedProtocol):
        detail = str(err)
    return APIConnectionError(
        f"{method} {url} could not be sent: {detail}; it was not retried",
        method=method,
        url=url,
    )


@contextmanager
def translate_errors(method: str, url: str, clock: _Clock | None = None) -> Iterator[None]:
    """Turn httpx2's transport exceptions into ours, keeping the original as `__cause__`."""
    try:
        yield
    except (_TotalTimeout, httpx2.TimeoutException) as err:
        if clock is not None and clock.total is not None and (isinstance(err, _TotalTimeout) or clock.expired()):
            raise APITimeoutError(
                f"{method} {url} did not finish within the total_timeout of {clock.total:g} s; "
                "pass a larger total_timeout= (or None for no overall limit)",
                method=method,
                url=url,
            ) from err
        raise APITimeoutError(f"{method} {url} timed out ({type(err).__name__}).", method=method, url=url) from err
    except (httpx2.LocalProtocolError, httpx2.UnsupportedProtocol) as err:
        raise _local_error(err, method, url) from err
    except (httpx2.TransportError, httpx2.DecodingError) as err:
        detail = str(err) or type(err).__name__
        raise APIConnectionError(f"Connection error on {method} {url}: {detail}", method=method, url=url) from err
    except Exception as err:
        if _is_local_protocol_error(err):
            raise _local_error(err, method, url) from err
        raise


def _reach(err: APIConnectionError, clock: _Clock) -> Reach:
    """How far the failed attempt behind `err` got (see `_retry.Reach`)."""
    cause = err.__cause__
    if clock.expired() or isinstance(cause, httpx2.LocalProtocolError | httpx2.UnsupportedProtocol):
        return "invalid"
    if cause is not None and _is_local_protocol_error(cause):
        return "invalid"
    if isinstance(cause, httpx2.ConnectError | httpx2.ConnectTimeout | httpx2.PoolTimeout | httpx2.ProxyError):
        return "unsent"
    if isinstance(cause, httpx2.WriteTimeout):
        return "incomplete"
    return "sent"


def _with_note(err: APIConnectionError, note: str | None) -> APIConnectionError:
    if note is None:
        return err
    noted = type(err)(f"{err.message} {note}", method=err.method, url=err.url)
    noted.__cause__ = err.__cause__
    return noted


def _status_error(
    spec: RequestSpec, status_code: int, headers: Mapping[str, str], content: bytes, note: str | None = None
) -> APIStatusError:
    text = content.decode("utf-8", "replace")
    body: object
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = text
    message = error_message_from_body(body, status_code)
    if status_code in (404, 405) and spec.not_found_hint:
        message += f" ({spec.method} {spec.url} answered {status_code}: {spec.not_found_hint})"
    if note:
        message += f" {note}"
    cls = status_error_class(status_code)
    return cls(
        message,
        status_code=status_code,
        method=spec.method,
        url=spec.url,
        body=body,
        request_id=headers.get("x-request-id"),
        headers=dict(headers),
    )


def _too_large(spec: RequestSpec, limit: int) -> ResponseTooLargeError:
    return ResponseTooLargeError(
        f"the answer to {spec.method} {spec.url} exceeded the max_response_size limit of {limit} bytes "
        "(decompressed), so reading stopped; pass a larger max_response_size= to the client, or None for no limit",
        limit=limit,
        method=spec.method,
        url=spec.url,
    )


def _error_body_limit(limit: int | None) -> int:
    return MAX_ERROR_BODY if limit is None else min(limit, MAX_ERROR_BODY)


class _Collector:
    """Gathers a body's chunks up to `limit` bytes: past it, raise (`strict`) or keep only the start."""

    def __init__(self, spec: RequestSpec, limit: int | None, *, strict: bool) -> None:
        self._spec = spec
        self._limit = limit
        self._strict = strict
        self._parts: list[bytes] = []
        self._size = 0

    def add(self, chunk: bytes) -> bool:
        """Keep `chunk`; False once the limit is reached and reading should stop."""
        self._size += len(chunk)
        limit = self._limit
        if limit is not None and self._size > limit:
            if self._strict:
                raise _too_large(self._spec, limit)
            self._parts.append(chunk[: len(chunk) - (self._size - limit)])
            return False
        self._parts.append(chunk)
        return True

    def content(self) -> bytes:
        return b"".join(self._parts)


def _log_response(spec: RequestSpec, response: httpx2.Response, started: float) -> None:
    if log.isEnabledFor(logging.DEBUG):
        log.debug(
            "%s %s -> %s in %.1f ms (request id %s)",
            spec.method,
            redact_url(spec.url),
            response.status_code,
            (time.perf_counter() - started) * 1000,
            response.headers.get("x-request-id", "-"),
        )


def _log_retry(spec: RequestSpec, delay: float, attempt: int, max_retries: int, reason: str) -> None:
    log.info(
        "Retrying %s %s in %.2f s (retry %d of %d) after %s",
        spec.method,
        redact_url(spec.url),
        delay,
        attempt + 1,
        max_retries,
        reason,
    )


def _failed_after_status(err: APIConnectionError, response: httpx2.Response) -> APIConnectionError:
    """What a 2xx streaming answer whose body failed before its first byte is raised as.

    The server took the request and failed while answering (openai-chatkit hosted as documented sends 200,
    then closes when it raises): the chat shells report it with the partial reply, never a resend. A
    timeout stays a timeout.
    """
    if isinstance(err, APITimeoutError):
        return err
    failed = BodyFailedAfterStatusError(
        err.message, status_code=response.status_code, headers=dict(response.headers), method=err.method, url=err.url
    )
    failed.__cause__ = err.__cause__
    failed.__suppress_context__ = True
    return failed


class _TransportBase:
    """Configuration shared by both transports; nothing here does I/O."""

    def __init__(
        self,
        *,
        timeout: httpx2.Timeout,
        max_retries: int,
        total_timeout: float | None = None,
        max_response_size: int | None = DEFAULT_MAX_RESPONSE_SIZE,
    ) -> None:
        self.timeout = timeout
        self.max_retries = max_retries
        self.total_timeout = total_timeout
        self.max_response_size = max_response_size
        # Tests swap this for a fixed value to make the jitter predictable.
        self.random = random.random

    def _build(
        self,
        client: httpx2.Client | httpx2.AsyncClient,
        spec: RequestSpec,
        body: _Body,
        timeout: httpx2.Timeout,
        trace: Any,
    ) -> httpx2.Request:
        return client.build_request(
            spec.method,
            spec.url,
            headers=dict(spec.headers),
            params=dict(spec.params) if spec.params else None,
            json=spec.json,
            files=body.files,
            content=spec.content,
            timeout=timeout,
            extensions={"trace": trace},
        )

    def _delay_after_error(
        self, spec: RequestSpec, err: APIConnectionError, attempt: int, max_retries: int, body: _Body, clock: _Clock
    ) -> float:
        decision = retry_decision(
            attempt,
            max_retries,
            idempotent=spec.idempotent,
            reach=_reach(err, clock),
            replayable=body.replayable,
            time_left=clock.left(),
            random=self.random,
        )
        if decision.delay is None:
            raise _with_note(err, decision.note)
        if not body.rewind():
            raise _with_note(err, BODY_NOTE)
        _log_retry(spec, decision.delay, attempt, max_retries, type(err).__name__)
        return decision.delay

    def _delay_after_status(
        self,
        spec: RequestSpec,
        response: httpx2.Response,
        content: bytes,
        attempt: int,
        max_retries: int,
        body: _Body,
        clock: _Clock,
    ) -> float:
        decision = retry_decision(
            attempt,
            max_retries,
            status_code=response.status_code,
            headers=response.headers,
            idempotent=spec.idempotent,
            replayable=body.replayable,
            time_left=clock.left(),
            random=self.random,
        )
        if decision.delay is None or not body.rewind():
            note = decision.note if decision.delay is None else BODY_NOTE
            raise _status_error(spec, response.status_code, response.headers, content, note)
        _log_retry(spec, decision.delay, attempt, max_retries, f"status {response.status_code}")
        return decision.delay


class _BodyBase:
    """What both stream bodies expose before iteration: the answer's headers and media type."""

    def __init__(self, spec: RequestSpec, headers: Mapping[str, str], first: bytes, clock: _Clock) -> None:
        self._spec = spec
        self._first = first
        self._clock = clock
        self.headers = headers

    @property
    def content_type(self) -> str:
        return media_type(self.headers)


def _chunks_within(chunks: Iterator[bytes], clock: _Clock) -> Iterator[bytes]:
    """`chunks`, each read under the clock's deadline, ending with `_TotalTimeout` once it has passed."""
    try:
        while True:
            with _deadline_scope(clock):
                chunk = next(chunks, None)
            if chunk is None:
                return
            clock.check()
            yield chunk
    finally:
        chunks.close()  # type: ignore[attr-defined]


async def _achunks_within(chunks: AsyncIterator[bytes], clock: _Clock) -> AsyncIterator[bytes]:
    """Async twin of `_chunks_within`."""
    try:
        while True:
            with _deadline_scope(clock):
                chunk = await anext(chunks, None)
            if chunk is None:
                return
            clock.check()
            yield chunk
    finally:
        await chunks.aclose()  # type: ignore[attr-defined]


class ByteStream(_BodyBase):
    """The body of a 2xx streaming answer; iterating it raises our connection errors, not httpx2's."""

    def __init__(
        self, spec: RequestSpec, headers: Mapping[str, str], first: bytes, rest: Iterator[bytes], clock: _Clock
    ) -> None:
        super().__init__(spec, headers, first, clock)
        self._rest = rest

    def __iter__(self) -> Iterator[bytes]:
        if self._first:
            yield self._first
        with translate_errors(self._spec.method, self._spec.url, self._clock):
            yield from self._rest


class AsyncByteStream(_BodyBase):
    """Async twin of `ByteStream`."""

    def __init__(
        self, spec: RequestSpec, headers: Mapping[str, str], first: bytes, rest: AsyncIterator[bytes], clock: _Clock
    ) -> None:
        super().__init__(spec, headers, first, clock)
        self._rest = rest

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._first:
            yield self._first
        with translate_errors(self._spec.method, self._spec.url, self._clock):
            async for chunk in self._rest:
                yield chunk


class SyncTransport(_TransportBase):
    """Sends requests with one pooled `httpx2.Client`; safe to share between threads."""

    def __init__(
        self,
        *,
        http_client: httpx2.Client | None = None,
        timeout: httpx2.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        total_timeout: float | None = None,
        max_response_size: int | None = DEFAULT_MAX_RESPONSE_SIZE,
    ) -> None:
        super().__init__(
            timeout=timeout, max_retries=max_retries, total_timeout=total_timeout, max_response_size=max_response_size
        )
        self._owns_client = http_client is None
        self.client = http_client if http_client is not None else httpx2.Client(timeout=timeout)
        watch_deadlines(self.client, is_async=False)

    def close(self) -> None:
        if self._owns_client:
            self.client.close()

    def _send(self, spec: RequestSpec, body: _Body, timeout: httpx2.Timeout, clock: _Clock) -> httpx2.Response:
        guard = FramingGuard(spec.method, spec.url)
        request = self._build(self.client, spec, body, clock.clamp(timeout), guard.trace)
        with _deadline_scope(clock):
            response = self.client.send(request, stream=True)
        guard.attach(response.stream)
        return response

    def _read(self, response: httpx2.Response, collector: _Collector, clock: _Clock) -> bytes:
        chunks = _chunks_within(response.iter_bytes(), clock)
        try:
            for chunk in chunks:
                if not collector.add(chunk):
                    break
        finally:
            chunks.close()  # type: ignore[attr-defined]
        return collector.content()

    def request(
        self, spec: RequestSpec, *, timeout: TimeoutTypes | NotGiven = NOT_GIVEN, max_retries: int | None = None
    ) -> ApiResponse:
        retries = self.max_retries if max_retries is None else max_retries
        resolved = _to_timeout(timeout, self.timeout)
        clock = _Clock.start(self.total_timeout)
        body = _Body(spec)
        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                with translate_errors(spec.method, spec.url, clock):
                    response = self._send(spec, body, resolved, clock)
                    try:
                        _log_response(spec, response, started)
                        if response.is_success:
                            collector = _Collector(spec, self.max_response_size, strict=True)
                        else:
                            collector = _Collector(spec, _error_body_limit(self.max_response_size), strict=False)
                        content = self._read(response, collector, clock)
                    finally:
                        response.close()
            except APIConnectionError as err:
                time.sleep(self._delay_after_error(spec, err, attempt, retries, body, clock))
                attempt += 1
                continue
            if response.is_success:
                request_id = response.headers.get("x-request-id")
                return ApiResponse(response.status_code, response.headers, content, request_id)
            time.sleep(self._delay_after_status(spec, response, content, attempt, retries, body, clock))
            attempt += 1

    @contextmanager
    def stream(
        self, spec: RequestSpec, *, timeout: TimeoutTypes | NotGiven = NOT_GIVEN, max_retries: int | None = None
    ) -> Iterator[ByteStream]:
        """Open a streaming request; the body is closed when the block ends."""
        retries = self.max_retries if max_retries is None else max_retries
        resolved = _to_timeout(timeout, self.timeout)
        clock = _Clock.start(self.total_timeout)
        body = _Body(spec)
        attempt = 0
        while True:
            started = time.perf_counter()
            response: httpx2.Response | None = None
            try:
                with translate_errors(spec.method, spec.url, clock):
                    response = self._send(spec, body, resolved, clock)
                    _log_response(spec, response, started)
                    if not response.is_success:
                        collector = _Collector(spec, _error_body_limit(self.max_response_size), strict=False)
                        content = self._read(response, collector, clock)
                    else:
                        chunks = _chunks_within(response.iter_bytes(), clock)
                        # A failure before the first byte of a 2xx answer is raised, never resent: the server took it.
                        first = next(chunks, b"")
            except APIConnectionError as err:
                if response is not None:
                    response.close()
                    if response.is_success:
                        raise _failed_after_status(err, response) from err.__cause__
                time.sleep(self._delay_after_error(spec, err, attempt, retries, body, clock))
                attempt += 1
                continue
            if not response.is_success:
                response.close()
                time.sleep(self._delay_after_status(spec, response, content, attempt, retries, body, clock))
                attempt += 1
                continue
            stream = ByteStream(spec, response.headers, first, chunks, clock)
            try:
                yield stream
            finally:
                chunks.close()  # type: ignore[attr-defined]
                response.close()
            return


class AsyncTransport(_TransportBase):
    """Sends requests with one pooled `httpx2.AsyncClient`; safe to share between tasks."""

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
        watch_deadlines(self.client, is_async=True)

    async def close(self) -> None:
        if self._owns_client:
            await self.client.aclose()

    async def _send(self, spec: RequestSpec, body: _Body, timeout: httpx2.Timeout, clock: _Clock) -> httpx2.Response:
        guard = FramingGuard(spec.method, spec.url)
        request = self._build(self.client, spec, body, clock.clamp(timeout), guard.atrace)
        with _deadline_scope(clock):
            response = await self.client.send(request, stream=True)
        guard.attach(response.stream)
        return response

    async def _read(self, response: httpx2.Response, collector: _Collector, clock: _Clock) -> bytes:
        chunks = _achunks_within(response.aiter_bytes(), clock)
        try:
            async for chunk in chunks:
                if not collector.add(chunk):
                    break
        finally:
            await chunks.aclose()  # type: ignore[attr-defined]
        return collector.content()

    async def request(
        self, spec: RequestSpec, *, timeout: TimeoutTypes | NotGiven = NOT_GIVEN, max_retries: int | None = None
    ) -> ApiResponse:
        retries = self.max_retries if max_retries is None else max_retries
        resolved = _to_timeout(timeout, self.timeout)
        clock = _Clock.start(self.total_timeout)
        body = _Body(spec)
        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                with translate_errors(spec.method, spec.url, clock):
                    response = await self._send(spec, body, resolved, clock)
                    try:
                        _log_response(spec, response, started)
                        if response.is_success:
                            collector = _Collector(spec, self.max_response_size, strict=True)
                        else:
                            collector = _Collector(spec, _error_body_limit(self.max_response_size), strict=False)
                        content = await self._read(response, collector, clock)
                    finally:
                        await response.aclose()
            except APIConnectionError as err:
                await _sleep(self._delay_after_error(spec, err, attempt, retries, body, clock))
                attempt += 1
                continue
            if response.is_success:
                request_id = response.headers.get("x-request-id")
                return ApiResponse(response.status_code, response.headers, content, request_id)
            await _sleep(self._delay_after_status(spec, response, content, attempt, retries, body, clock))
            attempt += 1

    @asynccontextmanager
    async def stream(
        self, spec: RequestSpec, *, timeout: TimeoutTypes | NotGiven = NOT_GIVEN, max_retries: int | None = None
    ) -> AsyncIterator[AsyncByteStream]:
        """Open a streaming request; the body is closed when the block ends."""
        retries = self.max_retries if max_retries is None else max_retries
        resolved = _to_timeout(timeout, self.timeout)
        clock = _Clock.start(self.total_timeout)
        body = _Body(spec)
        attempt = 0
        while True:
            started = time.perf_counter()
            response: httpx2.Response | None = None
            try:
                with translate_errors(spec.method, spec.url, clock):
                    response = await self._send(spec, body, resolved, clock)
                    _log_response(spec, response, started)
                    if not response.is_success:
                        collector = _Collector(spec, _error_body_limit(self.max_response_size), strict=False)
                        content = await self._read(response, collector, clock)
                    else:
                        chunks = _achunks_within(response.aiter_bytes(), clock)
                        # A failure before the first byte of a 2xx answer is raised, never resent: the server took it.
                        first = await anext(chunks, b"")
            except APIConnectionError as err:
                if response is not None:
                    await response.aclose()
                    if response.is_success:
                        raise _failed_after_status(err, response) from err.__cause__
                await _sleep(self._delay_after_error(spec, err, attempt, retries, body, clock))
                attempt += 1
                continue
            if not response.is_success:
                await response.aclose()
                await _sleep(self._delay_after_status(spec, response, content, attempt, retries, body, clock))
                attempt += 1
                continue
            stream = AsyncByteStream(spec, response.headers, first, chunks, clock)
            try:
                yield stream
            finally:
                await chunks.aclose()  # type: ignore[attr-defined]
                await response.aclose()
            return


async def _sleep(seconds: float) -> None:
    # Imported here: only the async client waits this way, and the sync client never loads asyncio.
    import asyncio

    await asyncio.sleep(seconds)
