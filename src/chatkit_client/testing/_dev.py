"""Both servers on one port: the hosted emulator under `/v1` and the local ChatKit server at `/chatkit`.

This is what `chatkit dev-server` serves, so one URL covers both halves of the client.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ._emulator import HostedEmulator
from ._serve import serve_app
from ._server import LocalChatKitServer, create_local_app

__all__ = ["RunningDev", "create_dev_app", "serve_dev"]


def create_dev_app(emulator: HostedEmulator, server: LocalChatKitServer) -> Any:
    """An ASGI app routing `/v1/...` to `emulator` and everything else to the local server."""
    hosted = emulator.app
    local = create_local_app(server=server)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope.get("type") in ("http", "websocket") else ""
        target = hosted if path.startswith("/v1/") else local
        await target(scope, receive, send)

    return app


@dataclass(frozen=True)
class RunningDev:
    """Where `serve_dev` listens: `server_url` (self-hosted) and `base_url` + `api_key` (hosted)."""

    origin: str
    emulator: HostedEmulator
    server: LocalChatKitServer
    api_key: str = field(repr=False)

    @property
    def server_url(self) -> str:
        return self.origin + "/chatkit"

    @property
    def base_url(self) -> str:
        return self.origin + "/v1"


@contextmanager
def serve_dev(*, host: str = "127.0.0.1", port: int = 0) -> Iterator[RunningDev]:
    """Serve both on one port until the block ends."""
    emulator = HostedEmulator()
    server = LocalChatKitServer()
    try:
        with serve_app(create_dev_app(emulator, server), host=host, port=port) as origin:
            yield RunningDev(origin=origin, emulator=emulator, server=server, api_key=emulator.api_key)
    finally:
        server.store.close()
