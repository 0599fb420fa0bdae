"""The seam between a client and what it serves: `Chat` and the resources send requests through a requester
and touch nothing else of the client (as openai-python's resources use `client.get`/`client.post`).

Imports: the transport (the only HTTP code), and `_core` for what a request is and how it is built.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from .._core.endpoints import Endpoints
from .._core.requests import ApiResponse, RequestSpec
from .transport import AsyncByteStream, AsyncTransport

__all__ = ["AsyncRequester"]


class AsyncRequester:
    """Builds requests (`endpoints`) and sends them (`request`, `stream`) for one client.

    `max_event_size` travels with it because every stream decoded for this client is bounded by it.

    ```python
    spec = requester.endpoints.protocol({"type": "threads.list", "params": {}}, None)
    response = await requester.request(spec)
    ```
    """

    def __init__(self, endpoints: Endpoints, transport: AsyncTransport, *, max_event_size: int | None) -> None:
        self.endpoints = endpoints
        self.max_event_size = max_event_size
        self._transport = transport

    async def request(self, spec: RequestSpec) -> ApiResponse:
        """Send `spec` (retried as its idempotency allows) and return the whole answer."""
        return await self._transport.request(spec)

    def stream(self, spec: RequestSpec) -> AbstractAsyncContextManager[AsyncByteStream]:
        """Send `spec` and hold its answer open as a byte stream until the block ends."""
        return self._transport.stream(spec)
