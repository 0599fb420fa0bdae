"""What `app=` and `server=` turn into: the endpoint URL and an httpx2 client that reaches it in-process.

The app is mounted on one origin (`http://testserver` unless `server_url` is a full URL), so
every URL the app hands out about itself (two-phase upload URLs, previews) is served in-process
too, with the client's headers; a URL on any other origin (a storage bucket the server signs
uploads for) goes out over the network as usual.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx2

from ._exceptions import InvalidInputError

if TYPE_CHECKING:
    # The ASGI bridge runs on asyncio: loaded only when `app=`/`server=` is used, not by every client.
    from ._asgi_transport import StreamingASGITransport

__all__ = ["DEFAULT_ORIGIN", "InProcess"]

DEFAULT_ORIGIN = "http://testserver"
_DEFAULT_PATH = "/chatkit"


@dataclass(frozen=True)
class InProcess:
    """A checked `app=`/`server=` configuration; `server_url` is the endpoint the client posts to."""

    server_url: str
    origin: str
    transport: StreamingASGITransport

    @classmethod
    def build(
        cls,
        *,
        app: Any,
        server: Any,
        context: Any,
        lifespan: bool,
        server_url: str | None,
        http_client: object | None,
    ) -> InProcess | None:
        """None when neither `app` nor `server` is given (after checking the options that need one)."""
        if app is None and server is None:
            if context is not None:
                raise InvalidInputError("context", "is what a ChatKit server given as server= receives; pass server=")
            if lifespan:
                raise InvalidInputError("lifespan", "runs the start-up of an app given as app=; pass app=")
            return None
        if app is not None and server is not None:
            raise InvalidInputError("server", "cannot be combined with app= (pass one of them)")
        if http_client is not None:
            raise InvalidInputError("http_client", "cannot be combined with app= or server= (they build their own)")
        if server is not None:
            if not callable(getattr(server, "process", None)):
                raise InvalidInputError("server", "must be an openai-chatkit ChatKitServer (it has no process())")
            if lifespan:
                raise InvalidInputError("lifespan", "is for app=; a ChatKitServer given as server= has no lifespan")
        elif not callable(app):
            raise InvalidInputError("app", f"must be an ASGI application, got {type(app).__name__}")
        origin, path = cls._endpoint(server_url)
        from ._asgi_transport import StreamingASGITransport

        if server is not None:
            from ._server_transport import chatkit_server_app

            transport = StreamingASGITransport(chatkit_server_app(server, context, path))
        else:
            transport = StreamingASGITransport(app, lifespan=lifespan)
        return cls(server_url=origin + path, origin=origin, transport=transport)

    @staticmethod
    def _endpoint(server_url: str | None) -> tuple[str, str]:
        if server_url is None:
            return DEFAULT_ORIGIN, _DEFAULT_PATH
        if isinstance(server_url, str) and server_url.startswith("/"):
            return DEFAULT_ORIGIN, server_url
        if isinstance(server_url, str) and server_url.startswith(("http://", "https://")):
            parts = urlsplit(server_url)
            if parts.netloc:
                return f"{parts.scheme}://{parts.netloc}", parts.path or _DEFAULT_PATH
        raise InvalidInputError(
            "server_url",
            f"with app= or server= is the endpoint's path ('/chatkit') or a full http(s) URL, got {server_url!r}",
        )

    def sync_client(self, timeout: httpx2.Timeout) -> httpx2.Client:
        from ._asgi_transport import SyncInProcessTransport

        return httpx2.Client(timeout=timeout, mounts={self.origin: SyncInProcessTransport(self.transport)})

    def async_client(self, timeout: httpx2.Timeout) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(timeout=timeout, mounts={self.origin: self.transport})
