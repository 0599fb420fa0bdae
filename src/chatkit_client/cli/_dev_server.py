"""`chatkit dev-server`: listening at once, the local ChatKit server loading behind it.

The local server stands on openai-chatkit, whose import pulls in openai-agents: seconds on a busy machine.
So the port listens first, the hosted emulator (light) answers from the start, and the local server is
built in a thread; a request to it waits for that thread, never fails for it.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import click

__all__ = ["LazyLocalApp", "run_dev_server"]


class LazyLocalApp:
    """An ASGI app that builds the local ChatKit server in a thread on creation and serves it once built."""

    def __init__(self) -> None:
        self._built: Future[tuple[Any, Any]] = Future()
        threading.Thread(target=self._build, name="chatkit-dev-server-load", daemon=True).start()

    def _build(self) -> None:
        try:
            from ..testing import LocalChatKitServer, create_local_app

            server = LocalChatKitServer()
            self._built.set_result((server, create_local_app(server=server)))
        except BaseException as err:  # handed to the requests that wait for it
            self._built.set_exception(err)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        _server, app = await asyncio.wrap_future(self._built)
        await app(scope, receive, send)

    def close(self) -> None:
        # Stopped while still loading: nothing to close, and the daemon thread ends with the process.
        if self._built.done() and self._built.exception() is None:
            server, _app = self._built.result()
            server.store.close()


def run_dev_server(host: str, port: int, fail: Callable[[str], Any]) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP so that asyncio turns Nagle off: without it every response waits ~40 ms on delayed ACKs.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        # Bound here, not by uvicorn, so a busy port is one clear error line and port 0 shows its real number.
        sock.bind((host, port))
        # Listening before anything heavy loads: a client may connect from the first moment.
        sock.listen(2048)
    except OSError as err:
        sock.close()
        fail(f"cannot listen on {host}:{port}: {err.strerror or err}")
        return
    from importlib.util import find_spec

    try:
        import uvicorn

        from ..testing import HostedEmulator

        # Only looked up here: the local server imports openai-chatkit in the background.
        if find_spec("chatkit") is None:
            raise ImportError("openai-chatkit")
    except ImportError:
        sock.close()
        fail("dev-server needs the testing extra: pip install 'chatkit-client[testing]'")
        return

    emulator = HostedEmulator()
    local = LazyLocalApp()
    hosted = emulator.app

    async def app(scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope.get("type") in ("http", "websocket") else ""
        await (hosted if path.startswith("/v1/") else local)(scope, receive, send)

    bound = sock.getsockname()[1]
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    origin = f"http://{shown}:{bound}"
    if host not in ("127.0.0.1", "::1", "localhost"):
        click.echo(f"warning: listening on {host}, reachable from other machines; this server has no auth", err=True)
    click.echo(
        f"ChatKit dev server on {origin}\n"
        f"  self-hosted endpoint: {origin}/chatkit\n"
        f"  hosted emulator:      {origin}/v1 (API key {emulator.api_key})\n\n"
        "Try:\n"
        f"  chatkit --server-url {origin}/chatkit chat\n"
        f"  chatkit --base-url {origin}/v1 --api-key {emulator.api_key} --workflow wf_demo chat\n\n"
        "Press Ctrl-C to stop."
    )
    sys.stdout.flush()
    config = uvicorn.Config(app, host=host, port=bound, log_level="warning", lifespan="off", timeout_keep_alive=30)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
        local.close()
