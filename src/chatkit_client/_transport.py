"""HTTP for chatkit-client: the only module that imports httpx2.

It sends `RequestSpec`s built elsewhere, retries them by the pure policy in `_retry`, translates
httpx2's exceptions into ours in one place (`translate_errors`), and logs each attempt without
headers, so no credential can reach a log line. A streaming request is retried only until its
first body byte has arrived; after that a failure is the caller's to report, never a silent resend.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import IO, Any, TypeAlias

import httpx2

from ._constants import DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT, LOGGER_NAME
from ._exceptions import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    BodyFailedAfterStatusError,
    error_message_from_body,
    status_error_class,
)
from ._retry import retry_delay
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

# (filename, binary file object, MIME type) for the single multipart part a ChatKit upload has.
FilePart: TypeAlias = tuple[str, IO[bytes], str]


@dataclass(frozen=True)
class RequestSpec:
    """Everything needed to send one request; built by pure code, sent by a transport."""

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str | int] | None = None
    json: object | None = None
    files: Mapping[str, FilePart] | None = None
    content: bytes | IO[bytes] | None = None


@dataclass(frozen=True)
class ApiResponse:
    """A finished 2xx answer."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes
    request_id: str | None

    def json(self) -> Any:
        if not self.content:
            return None
        try:
            return json.loads(self.content)
        except ValueError as err:
            excerpt = self.content[:200].decode("utf-8", "replace")
            raise APIResponseValidationError(
                f"expected a JSON body but got {self.headers.get('content-type', 'no content type')}: {excerpt!r}",
                body=excerpt,
            ) from err


def media_type(headers: Mapping[str, str]) -> str:
    """`text/event-stream` from `Content-Type: text/event-stream; charset=utf-8`."""
    return headers.get("content-type", "").partition(";")[0].strip().lower()


def _to_timeout(value: TimeoutTypes | NotGiven, default: httpx2.Timeout) -> httpx2.Timeout:
    if isinstance(value, NotGiven):
        return default
    if isinstance(value, httpx2.Timeout):
        return value
    return httpx2.Timeout(value)


@contextmanager
def translate_errors(method: str, url: str) -> Iterator[None]:
    """Turn httpx2's transport exceptions into ours, keeping the original as `__cause__`."""
    try:
        yield
    except httpx2.TimeoutException as err:
        raise APITimeoutError(f"{method} {url} timed out ({type(err).__name__}).", method=method, url=url) from err
    except (httpx2.TransportError, httpx2.DecodingError) as err:
        detail = str(err) or type(err).__name__
        raise APIConnectionError(f"Connection error on {method} {url}: {detail}", method=method, url=url) from err


def _status_error(
    status_code: int, headers: Mapping[str, str], content: bytes, method: str, url: str
) -> APIStatusError:
    text = content.decode("utf-8", "replace")
    body: object
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = text
    cls = status_error_class(status_code)
    return cls(
        error_message_from_body(body, status_code),
        status_code=status_code,
        method=method,
        url=url,
        body=body,
        request_id=headers.get("x-request-id"),
        headers=dict(headers),
    )


def _log_response(spec: RequestSpec, response: httpx2.Response, started: float) -> None:
    if log.isEnabledFor(logging.DEBUG):
        log.debug(
            "%s %s -> %s in %.1f ms (request id %s)",
            spec.method,
            spec.url,
            response.status_code,
            (time.perf_counter() - started) * 1000,
            response.headers.get("x-request-id", "-"),
        )


def _log_retry(spec: RequestSpec, delay: float, attempt: int, max_retries: int, reason: str) -> None:
    log.info(
        "Retrying %s %s in %.2f s (retry %d of %d) after %s",
        spec.method,
        spec.url,
        delay,
        attempt + 1,
        max_retries,
        reason,
    )


def _refuse_resend(err: APIConnectionError, response: httpx2.Response | None) -> None:
    """Raise when a streaming request that failed may already have been taken by the server.

    A stream carries a message; sending it twice would make the backend answer it twice. A 2xx status
    line says the server took it. A connection the server closed or reset after the request went out
    says it may have: httpx2 reports a status line cut short exactly like no answer at all, so the
    client cannot tell "some of the answer arrived" from "none did", and does not guess.
    """
    if response is not None and response.is_success:
        if isinstance(err, APITimeoutError):
            raise err
        # The server took the request and failed while answering: the chat shells report it with the reply.
        status, headers = response.status_code, dict(response.headers)
        raise BodyFailedAfterStatusError(
            err.message, status_code=status, headers=headers, method=err.method, url=err.url
        ) from err.__cause__
    cause = err.__cause__
    if isinstance(cause, httpx2.RemoteProtocolError | httpx2.ReadError):
        raise APIConnectionError(
            f"{err.message} The request had been sent, so it was not sent again; send it again if no answer arrives.",
            method=err.method,
            url=err.url,
        ) from cause


class _TransportBase:
    """Configuration shared by both transports; nothing here does I/O."""

    def __init__(self, *, timeout: httpx2.Timeout, max_retries: int) -> None:
        self.timeout = timeout
        self.max_retries = max_retries
        # Tests swap this for a fixed value to make the jitter predictable.
        self.random = random.random

    def _build(
        self, client: httpx2.Client | httpx2.AsyncClient, spec: RequestSpec, timeout: httpx2.Timeout
    ) -> httpx2.Request:
        return client.build_request(
            spec.method,
            spec.url,
            headers=dict(spec.headers),
            params=dict(spec.params) if spec.params else None,
            json=spec.json,
            files=dict(spec.files) if spec.files else None,
            content=spec.content,
            timeout=timeout,
        )

    def _delay_after_error(self, spec: RequestSpec, err: APIConnectionError, attempt: int, max_retries: int) -> float:
        delay = retry_delay(attempt, max_retries, random=self.random)
        if delay is None:
            raise err
        _log_retry(spec, delay, attempt, max_retries, type(err).__name__)
        return delay

    def _delay_after_status(
        self,
        spec: RequestSpec,
        status_code: int,
        headers: Mapping[str, str],
        content: bytes,
        attempt: int,
        max_retries: int,
    ) -> float:
        delay = retry_delay(attempt, max_retries, status_code=status_code, headers=headers, random=self.random)
        if delay is None:
            raise _status_error(status_code, headers, content, spec.method, spec.url)
        _log_retry(spec, delay, attempt, max_retries, f"status {status_code}")
        return delay


class _BodyBase:
    """What both stream bodies expose before iteration: the answer's headers and media type."""

    def __init__(self, spec: RequestSpec, headers: Mapping[str, str], first: bytes) -> None:
        self._spec = spec
        self._first = first
        self.headers = headers

    @property
    def content_type(self) -> str:
        return media_type(self.headers)


class ByteStream(_BodyBase):
    """The body of a 2xx streaming answer; iterating it raises our connection errors, not httpx2's."""

    def __init__(self, spec: RequestSpec, headers: Mapping[str, str], first: bytes, rest: Iterator[bytes]) -> None:
        super().__init__(spec, headers, first)
        self._rest = rest

    def __iter__(self) -> Iterator[bytes]:
        if self._first:
            yield self._first
        with translate_errors(self._spec.method, self._spec.url):
            yield from self._rest


class AsyncByteStream(_BodyBase):
    """Async twin of `ByteStream`."""

    def __init__(self, spec: RequestSpec, headers: Mapping[str, str], first: bytes, rest: AsyncIterator[bytes]) -> None:
        super().__init__(spec, headers, first)
        self._rest = rest

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._first:
            yield self._first
        with translate_errors(self._spec.method, self._spec.url):
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
    ) -> None:
        super().__init__(timeout=timeout, max_retries=max_retries)
        self._owns_client = http_client is None
        self.client = http_client if http_client is not None else httpx2.Client(timeout=timeout)

    def close(self) -> None:
        if self._owns_client:
            self.client.close()

    def request(
        self, spec: RequestSpec, *, timeout: TimeoutTypes | NotGiven = NOT_GIVEN, max_retries: int | None = None
    ) -> ApiResponse:
        retries = self.max_retries if max_retries is None else max_retries
        resolved = _to_timeout(timeout, self.timeout)
        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                with translate_errors(spec.method, spec.url):
                    response = self.client.send(self._build(self.client, spec, resolved))
            except APIConnectionError as err:
                time.sleep(self._delay_after_error(spec, err, attempt, retries))
                attempt += 1
                continue
            _log_response(spec, response, started)
            if response.is_success:
                return ApiResponse(
                    response.status_code, response.headers, response.content, response.headers.get("x-request-id")
                )
            time.sleep(
                self._delay_after_status(
                    spec, response.status_code, response.headers, response.content, attempt, retries
                )
            )
            attempt += 1

    @contextmanager
    def stream(
        self, spec: RequestSpec, *, timeout: TimeoutTypes | NotGiven = NOT_GIVEN, max_retries: int | None = None
    ) -> Iterator[ByteStream]:
        """Open a streaming request; the body is closed when the block ends."""
        retries = self.max_retries if max_retries is None else max_retries
        resolved = _to_timeout(timeout, self.timeout)
        attempt = 0
        while True:
            started = time.perf_counter()
            response: httpx2.Response | None = None
            try:
                with translate_errors(spec.method, spec.url):
                    response = self.client.send(self._build(self.client, spec, resolved), stream=True)
                    _log_response(spec, response, started)
                    if not response.is_success:
                        response.read()
                    else:
                        chunks = response.iter_bytes()
                        # The first byte decides whether the server took the request: before it, a resend is safe.
                        first = next(chunks, b"")
            except APIConnectionError as err:
                if response is not None:
                    response.close()
                _refuse_resend(err, response)
                time.sleep(self._delay_after_error(spec, err, attempt, retries))
                attempt += 1
                continue
            if not response.is_success:
                response.close()
                time.sleep(
                    self._delay_after_status(
                        spec, response.status_code, response.headers, response.content, attempt, retries
                    )
                )
                attempt += 1
                continue
            body = ByteStream(spec, response.headers, first, chunks)
            try:
                yield body
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
    ) -> None:
        super().__init__(timeout=timeout, max_retries=max_retries)
        self._owns_client = http_client is None
        self.client = http_client if http_client is not None else httpx2.AsyncClient(timeout=timeout)

    async def close(self) -> None:
        if self._owns_client:
            await self.client.aclose()

    async def request(
        self, spec: RequestSpec, *, timeout: TimeoutTypes | NotGiven = NOT_GIVEN, max_retries: int | None = None
    ) -> ApiResponse:
        retries = self.max_retries if max_retries is None else max_retries
        resolved = _to_timeout(timeout, self.timeout)
        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                with translate_errors(spec.method, spec.url):
                    response = await self.client.send(self._build(self.client, spec, resolved))
            except APIConnectionError as err:
                await asyncio.sleep(self._delay_after_error(spec, err, attempt, retries))
                attempt += 1
                continue
            _log_response(spec, response, started)
            if response.is_success:
                return ApiResponse(
                    response.status_code, response.headers, response.content, response.headers.get("x-request-id")
                )
            await asyncio.sleep(
                self._delay_after_status(
                    spec, response.status_code, response.headers, response.content, attempt, retries
                )
            )
            attempt += 1

    @asynccontextmanager
    async def stream(
        self, spec: RequestSpec, *, timeout: TimeoutTypes | NotGiven = NOT_GIVEN, max_retries: int | None = None
    ) -> AsyncIterator[AsyncByteStream]:
        """Open a streaming request; the body is closed when the block ends."""
        retries = self.max_retries if max_retries is None else max_retries
        resolved = _to_timeout(timeout, self.timeout)
        attempt = 0
        while True:
            started = time.perf_counter()
            response: httpx2.Response | None = None
            try:
                with translate_errors(spec.method, spec.url):
                    response = await self.client.send(self._build(self.client, spec, resolved), stream=True)
                    _log_response(spec, response, started)
                    if not response.is_success:
                        await response.aread()
                    else:
                        chunks = response.aiter_bytes()
                        # The first byte decides whether the server took the request: before it, a resend is safe.
                        first = await anext(chunks, b"")
            except APIConnectionError as err:
                if response is not None:
                    await response.aclose()
                _refuse_resend(err, response)
                await asyncio.sleep(self._delay_after_error(spec, err, attempt, retries))
                attempt += 1
                continue
            if not response.is_success:
                await response.aclose()
                await asyncio.sleep(
                    self._delay_after_status(
                        spec, response.status_code, response.headers, response.content, attempt, retries
                    )
                )
                attempt += 1
                continue
            body = AsyncByteStream(spec, response.headers, first, chunks)
            try:
                yield body
            finally:
                await chunks.aclose()
                await response.aclose()
            return
