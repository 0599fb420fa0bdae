"""Serve an ASGI app with uvicorn on a free loopback port, in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["serve_app"]


@contextmanager
def serve_app(app: Any, *, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning") -> Iterator[str]:
    """Run `app` with uvicorn until the block ends; yields its origin, e.g. `http://127.0.0.1:53211`.

    The socket is bound before the server starts, so the port is known and free of races with
    other tests asking for port 0 at the same moment.

    >>> with serve_app(app) as origin:  # doctest: +SKIP
    ...     httpx2.get(origin + "/health")
    """
    import uvicorn

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP so that asyncio turns Nagle off: without it every response waits ~40 ms on delayed ACKs.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        host=host,
        port=bound_port,
        log_level=log_level,
        lifespan="off",
        timeout_graceful_shutdown=2,
        # Our test servers stream for a long time; uvicorn's default keep-alive of 5 s is for idle sockets only.
        timeout_keep_alive=30,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="chatkit-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive():
            sock.close()
            raise RuntimeError(f"the test server on {host}:{bound_port} failed to start")
        if time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError(f"the test server on {host}:{bound_port} did not start within 10 s")
        time.sleep(0.01)
    shown_host = f"[{host}]" if family == socket.AF_INET6 else host
    try:
        yield f"http://{shown_host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
