"""Building a client for the server under test: a URL, or an ASGI app given as `module:attr` or as the app."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx2

from .._asgi_transport import StreamingASGITransport, SyncInProcessTransport
from .._exceptions import InvalidInputError
from .._in_process import DEFAULT_ORIGIN
from ._probe import Probe

__all__ = ["APP_PATH", "load_app", "open_target"]

APP_PATH = "/chatkit"
"""Where `--app` expects the ChatKit endpoint, as openai-chatkit's documentation mounts it."""


def load_app(spec: str) -> Any:
    """Import `module:attr` (attr may be dotted) from the current directory or the path, as uvicorn does."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise InvalidInputError("app", f"expected 'module:attr' (e.g. 'myserver.main:app'), got {spec!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as err:
        raise InvalidInputError("app", f"cannot import {module_name!r}: {err}") from err
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise InvalidInputError("app", f"{module_name!r} has no attribute {attr!r}") from None
    if not callable(target):
        raise InvalidInputError("app", f"{spec} is a {type(target).__name__}, not an ASGI application")
    return target


@contextmanager
def open_target(
    *,
    server_url: str | None = None,
    headers: Mapping[str, str] | None = None,
    app: Any = None,
    timeout: float = 30.0,
) -> Iterator[Probe]:
    """The one place that builds a client for the target: `server_url`, or `app` (an ASGI app or `module:attr`).

    >>> with open_target(server_url="http://127.0.0.1:8000/chatkit") as probe:  # doctest: +SKIP
    ...     probe.post({"type": "threads.list", "params": {}}).status
    200
    """
    if (server_url is None) == (app is None):
        raise InvalidInputError("server_url", "give exactly one target: a server URL or an ASGI app")
    if server_url is not None:
        probe = Probe(server_url, headers, timeout=timeout)
        try:
            yield probe
        finally:
            probe.close()
        return
    asgi = load_app(app) if isinstance(app, str) else app
    # In process, no port: the app streams through the client's own ASGI transport, with its lifespan run
    # (apps that open their store at start-up work) and app exceptions answered as a 500, as a server would.
    transport = SyncInProcessTransport(StreamingASGITransport(asgi, lifespan=True, raise_app_exceptions=False))
    client = httpx2.Client(timeout=httpx2.Timeout(timeout), transport=transport)
    probe = Probe(DEFAULT_ORIGIN + APP_PATH, headers, timeout=timeout, client=client)
    try:
        yield probe
    finally:
        probe.close()
        client.close()
