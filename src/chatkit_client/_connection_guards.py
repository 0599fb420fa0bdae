"""Two guards below httpx2, on the connections httpcore2 pools; used by the transports only.

- **Deadlines.** `watch_deadlines` wraps a client's network backend so that every socket read,
  write and connect has its timeout cut to what is left of the current request's total timeout
  (`deadline_scope`, a context variable: one per thread or task). httpcore2 takes a read timeout
  once per answer, so without this a server sending one byte a second never times out.
- **Connections in step.** `FramingGuard` closes a keep-alive connection whose answer was followed
  by stray bytes (a wrong Content-Length from a server or proxy), which httpcore2 would otherwise
  parse as the next request's answer on that connection.

httpx2 offers no public hook for either, so both reach httpcore2's objects by attribute names; any
other shape (a MockTransport, HTTP/2, a custom transport) leaves the guard off, never broken.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

from ._constants import LOGGER_NAME
from ._core.redact import redact_url

__all__ = ["MIN_WAIT", "FramingGuard", "deadline_scope", "find_h11", "watch_deadlines"]

log = logging.getLogger(LOGGER_NAME)

# A socket timeout of 0 would switch the socket to non-blocking mode; past the deadline, wait this long.
MIN_WAIT = 0.001

# The monotonic time by which the request being sent in this thread or task must be done.
_DEADLINE: ContextVar[float | None] = ContextVar("chatkit_client_deadline", default=None)


class deadline_scope:  # a class, not a generator: cheaper per request
    """Socket operations inside the block end by `deadline` (a `time.monotonic()` value; None: no limit)."""

    __slots__ = ("_deadline", "_token")

    def __init__(self, deadline: float | None) -> None:
        self._deadline = deadline

    def __enter__(self) -> None:
        self._token = _DEADLINE.set(self._deadline)

    def __exit__(self, *exc_info: object) -> None:
        _DEADLINE.reset(self._token)


def _clamp(timeout: float | None) -> float | None:
    """A socket operation's timeout, cut to what is left of the current request's total timeout."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = max(deadline - time.monotonic(), MIN_WAIT)
    return left if timeout is None else min(timeout, left)


class _DeadlineStream:
    """httpcore2's network stream, each read and write bounded by the current deadline."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data: bytes = self._stream.read(max_bytes, _clamp(timeout))
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _clamp(timeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> Any:
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, _clamp(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _AsyncDeadlineStream:
    """Async twin of `_DeadlineStream`."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data: bytes = await self._stream.read(max_bytes, _clamp(timeout))
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._stream.write(buffer, _clamp(timeout))

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> Any:
        return _AsyncDeadlineStream(await self._stream.start_tls(ssl_context, server_hostname, _clamp(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend:
    """httpcore2's network backend, every connection it opens bounded by the current deadline."""

    def __init__(self, backend: Any) -> None:
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> Any:
        stream = self._backend.connect_tcp(
            host, port, timeout=_clamp(timeout), local_address=local_address, socket_options=socket_options
        )
        return _DeadlineStream(stream)

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None) -> Any:
        return _DeadlineStream(
            self._backend.connect_unix_socket(path, timeout=_clamp(timeout), socket_options=socket_options)
        )

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class _AsyncDeadlineBackend:
    """Async twin of `_DeadlineBackend`."""

    def __init__(self, backend: Any) -> None:
        self._backend = backend

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> Any:
        stream = await self._backend.connect_tcp(
            host, port, timeout=_clamp(timeout), local_address=local_address, socket_options=socket_options
        )
        return _AsyncDeadlineStream(stream)

    async def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None) -> Any:
        return _AsyncDeadlineStream(
            await self._backend.connect_unix_socket(path, timeout=_clamp(timeout), socket_options=socket_options)
        )

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


def watch_deadlines(client: object, *, is_async: bool) -> None:
    """Put the deadline wrapper under each connection pool of an httpx2 client (its new connections obey it).

    Without it (a MockTransport, a custom transport) the transport still cuts each attempt's
    timeouts to the time left and checks the deadline between chunks.
    """
    wrapper = _AsyncDeadlineBackend if is_async else _DeadlineBackend
    mounts = getattr(client, "_mounts", None)
    transports = [getattr(client, "_transport", None), *(mounts.values() if isinstance(mounts, dict) else ())]
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if backend is not None and not isinstance(backend, _DeadlineBackend | _AsyncDeadlineBackend):
            pool._network_backend = wrapper(backend)  # type: ignore[union-attr]


def find_h11(stream: object) -> Any:
    """The h11 state of the HTTP/1.1 connection behind an httpx2 response stream, or None.

    The chain is httpx2's stream wrappers, then httpcore2's pool stream and connection.
    """
    obj: object = stream
    for _ in range(8):
        state = getattr(obj, "_h11_state", None)
        if state is not None and hasattr(state, "trailing_data") and hasattr(state, "send_failed"):
            return state
        for name in ("_stream", "_httpcore_stream", "_connection"):
            inner = getattr(obj, name, None)
            if inner is not None:
                obj = inner
                break
        else:
            return None
    return None


class FramingGuard:
    """Closes a keep-alive connection whose answer was followed by stray bytes.

    httpcore2 keeps whatever h11 read past the end of an answer and parses it as the next answer on
    that connection, so one request (maybe another user's) would get a stale reply. Just before the
    connection goes back to the pool (the `response_closed` trace event), a non-empty h11 buffer
    marks our side as failed, and httpcore2 then closes the connection instead of reusing it.
    Install `trace` (sync) or `atrace` (async) as the request's `trace` extension, and `attach`
    the response once its headers arrived.
    """

    def __init__(self, method: str, url: str) -> None:
        self._method = method
        self._url = url
        self._h11: Any = None

    def attach(self, response_stream: object) -> None:
        self._h11 = find_h11(response_stream)

    def check(self, event: str) -> None:
        state = self._h11
        if state is None or event != "http11.response_closed.started":
            return
        self._h11 = None
        try:
            stray, _ = state.trailing_data
            if not stray:
                return
            state.send_failed()
        except Exception:  # another h11 than expected: the guard is best effort, never an error of its own
            return
        log.warning(
            "Closed the connection after %s %s: %d stray bytes followed the answer (a wrong Content-Length "
            "from the server or a proxy); they were not read as the next answer",
            self._method,
            redact_url(self._url),
            len(stray),
        )

    # httpcore2 calls these for every step of every request (about ten): only the last one needs the check.
    def trace(self, event: str, info: Mapping[str, Any]) -> None:
        if event == "http11.response_closed.started":
            self.check(event)

    async def atrace(self, event: str, info: Mapping[str, Any]) -> None:
        if event == "http11.response_closed.started":
            self.check(event)
