"""What both transports share: httpx2 configuration, error translation, bodies, clocks, logging; no sending.

May import httpx2, `_connection_guards`, the shared vocabulary and `_core`; never a shell. The transports
(`_async/transport.py`, and `_sync/transport.py` generated from it) send `RequestSpec`s built elsewhere;
they and this module are the client's only importers of httpx2, apart from the in-process transports.

The transports retry by the pure policy in `_core.retry` (which says what is sent again and why),
translate httpx2's exceptions into ours in one place (`translate_errors`), and log each attempt
without headers, so no credential can reach a log line.

Three guards live in the HTTP layer because only it can hold them:

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import IO, Any, TypeAlias

import httpx2

from ._connection_guards import MIN_WAIT
from ._constants import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_RESPONSE_SIZE,
    DEFAULT_READ_TIMEOUT,
    LOGGER_NAME,
    MAX_ERROR_BODY,
)
from ._core.redact import redact_url
from ._core.requests import RequestSpec, media_type
from ._core.retry import BODY_NOTE, Reach, Retries
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
from ._sentinels import NotGiven

__all__ = [
    "DEFAULT_TIMEOUT",
    "Attempts",
    "Body",
    "Clock",
    "Collector",
    "HttpxAsyncClient",
    "HttpxClient",
    "StreamBase",
    "Timeout",
    "TimeoutTypes",
    "TransportBase",
    "failed_after_status",
    "log_response",
    "translate_errors",
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
class Clock:
    """A request's total timeout: `total` seconds from its start (None: no limit)."""

    total: float | None
    deadline: float | None

    @classmethod
    def start(cls, total: float | None) -> Clock:
        if total is None:
            return _NO_LIMIT  # frozen, so one serves every request without a total timeout
        return cls(total, time.monotonic() + total)

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


_NO_LIMIT = Clock(None, None)


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


class Body:
    """The file objects of a request body and where each started, so every attempt sends them whole."""

    def __init__(self, spec: RequestSpec) -> None:
        self.replayable = True
        self._starts: list[tuple[Any, int]] = []
        self.files: dict[str, Any] | None = None
        if not spec.files and spec.content is None:  # a JSON body (every protocol request): nothing to rewind
            return
        handles: list[object] = [part[1] for part in (spec.files or {}).values()]
        if spec.content is not None and not isinstance(spec.content, bytes | bytearray | memoryview):
            handles.append(spec.content)
        for handle in handles:
            start = _start_of(handle)
            if start is None:
                self.replayable = False
            else:
                self._starts.append((handle, start))
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


class translate_errors:  # a class, not a generator: cheaper per request
    """Turn httpx2's transport exceptions into ours, keeping the original as `__cause__`."""

    __slots__ = ("_clock", "_method", "_url")

    def __init__(self, method: str, url: str, clock: Clock | None = None) -> None:
        self._method = method
        self._url = url
        self._clock = clock

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, err: BaseException | None, tb: object) -> None:
        if err is None or not isinstance(err, Exception):
            return
        method, url, clock = self._method, self._url, self._clock
        if isinstance(err, _TotalTimeout | httpx2.TimeoutException):
            if clock is not None and clock.total is not None and (isinstance(err, _TotalTimeout) or clock.expired()):
                raise APITimeoutError(
                    f"{method} {url} did not finish within the total_timeout of {clock.total:g} s; "
                    "pass a larger total_timeout= (or None for no overall limit)",
                    method=method,
                    url=url,
                ) from err
            raise APITimeoutError(f"{method} {url} timed out ({type(err).__name__}).", method=method, url=url) from err
        if isinstance(err, httpx2.LocalProtocolError | httpx2.UnsupportedProtocol):
            raise _local_error(err, method, url) from err
        if isinstance(err, httpx2.TransportError | httpx2.DecodingError):
            detail = str(err) or type(err).__name__
            raise APIConnectionError(f"Connection error on {method} {url}: {detail}", method=method, url=url) from err
        if _is_local_protocol_error(err):
            raise _local_error(err, method, url) from err


def _reach(err: APIConnectionError, clock: Clock) -> Reach:
    """How far the failed attempt behind `err` got (see `_core.retry.Reach`)."""
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


def failed_after_status(err: APIConnectionError, response: httpx2.Response) -> APIConnectionError:
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


# -- answers ------------------------------------------------------------------------------------


class Collector:
    """Gathers a body's chunks up to `limit` bytes: past it, raise (`strict`) or keep only the start."""

    def __init__(self, spec: RequestSpec, limit: int | None, *, strict: bool) -> None:
        self._spec = spec
        self._limit = limit
        self._strict = strict
        self._parts: list[bytes] = []
        self._size = 0

    @classmethod
    def for_answer(cls, spec: RequestSpec, response: httpx2.Response, limit: int | None) -> Collector:
        """A 2xx body up to `limit` (past it: `ResponseTooLargeError`); an error body's first 64 KiB at most."""
        if response.is_success:
            return cls(spec, limit, strict=True)
        return cls(spec, MAX_ERROR_BODY if limit is None else min(limit, MAX_ERROR_BODY), strict=False)

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


class StreamBase:
    """What both stream bodies expose before iteration: the answer's headers and media type."""

    def __init__(self, spec: RequestSpec, headers: Mapping[str, str], first: bytes, clock: Clock) -> None:
        self._spec = spec
        self._first = first
        self._clock = clock
        self.headers = headers

    @property
    def content_type(self) -> str:
        return media_type(self.headers)


# -- logging ------------------------------------------------------------------------------------


def log_response(spec: RequestSpec, response: httpx2.Response, started: float) -> None:
    if log.isEnabledFor(logging.DEBUG):
        log.debug(
            "%s %s -> %s in %.1f ms (request id %s)",
            spec.method,
            redact_url(spec.url),
            response.status_code,
            (time.perf_counter() - started) * 1000,
            response.headers.get("x-request-id", "-"),
        )


# -- the transports' configuration and one request's attempts ----------------------------------


class TransportBase:
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

    def _attempts(self, spec: RequestSpec, timeout: TimeoutTypes | NotGiven, max_retries: int | None) -> Attempts:
        """A new request's attempts; its total timeout starts now."""
        return Attempts(
            spec,
            _to_timeout(timeout, self.timeout),
            Clock.start(self.total_timeout),
            self.max_retries if max_retries is None else max_retries,
            self.random,
        )

    def _build(
        self,
        client: httpx2.Client | httpx2.AsyncClient,
        attempts: Attempts,
        trace: Any,
    ) -> httpx2.Request:
        spec = attempts.spec
        return client.build_request(
            spec.method,
            spec.url,
            headers=dict(spec.headers),
            params=dict(spec.params) if spec.params else None,
            json=spec.json,
            files=attempts.body.files,
            content=spec.content,
            timeout=attempts.clock.clamp(attempts.timeout),
            extensions={"trace": trace},
        )


class Attempts:
    """One request as the transports' retry loop sees it: its spec, per-attempt timeout, total-timeout clock,
    rewindable body and retries; after a failed attempt, the wait before the next one, or the error to raise.
    """

    def __init__(
        self, spec: RequestSpec, timeout: httpx2.Timeout, clock: Clock, max_retries: int, random: Callable[[], float]
    ) -> None:
        self.spec = spec
        self.timeout = timeout
        self.clock = clock
        self.body = Body(spec)
        self._retries = Retries(max_retries, idempotent=spec.idempotent, replayable=self.body.replayable, random=random)

    def delay_after_error(self, err: APIConnectionError) -> float:
        """The wait before sending again after `err`; raises `err` (with a note saying why) when it is not resent."""
        decision = self._retries.after_failure(reach=_reach(err, self.clock), time_left=self.clock.left())
        if decision.delay is None:
            raise _with_note(err, decision.note)
        if not self.body.rewind():
            raise _with_note(err, BODY_NOTE)
        self._log_retry(decision.delay, type(err).__name__)
        return decision.delay

    def delay_after_status(self, response: httpx2.Response, content: bytes) -> float:
        """The wait before sending again after a non-2xx answer; raises its `APIStatusError` when not resent."""
        decision = self._retries.after_failure(
            status_code=response.status_code, headers=response.headers, time_left=self.clock.left()
        )
        if decision.delay is None or not self.body.rewind():
            note = decision.note if decision.delay is None else BODY_NOTE
            raise _status_error(self.spec, response.status_code, response.headers, content, note)
        self._log_retry(decision.delay, f"status {response.status_code}")
        return decision.delay

    def _log_retry(self, delay: float, reason: str) -> None:
        log.info(
            "Retrying %s %s in %.2f s (retry %d of %d) after %s",
            self.spec.method,
            redact_url(self.spec.url),
            delay,
            self._retries.made,
            self._retries.max_retries,
            reason,
        )
