"""`ChatKit(server=...)`: drive an openai-chatkit `ChatKitServer` through `process()`, with no HTTP at all.

The server is wrapped in a minimal ASGI callable (no framework) that hands each protocol request to
`server.process(body, context)` and turns its `StreamingResult` or `NonStreamingResult` into a
response; `StreamingASGITransport` then gives it the same streaming, cancellation and timeout
behaviour as an app. Only the protocol endpoint exists: upload URLs that point at the app's own
HTTP routes need `app=` instead.

Errors are answered as a ChatKit server built on openai-chatkit usually answers them: a body
`process()` cannot parse is a 400, a thread, item or attachment its store cannot find (the
store's `NotFoundError`) is a 404, both as `{"error": {"message", "type", "code"}}`. Streaming
requests are run up to their first event before the status is chosen, so a missing thread is a
404 there too. Any other exception is the server's bug and is raised to the caller.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from pydantic import ValidationError

from ._asgi_transport import ASGIApp, Message, Receive, Send

__all__ = ["chatkit_server_app"]


def _error(status: int, message: str, code: str) -> tuple[int, bytes]:
    body = {"error": {"message": message, "type": "invalid_request_error", "code": code}}
    return status, json.dumps(body).encode()


def _known_error(exc: BaseException) -> tuple[int, bytes] | None:
    from chatkit.store import NotFoundError

    if isinstance(exc, ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}"
            # include_input=False: a request body may carry user data that has no place in an error.
            for error in exc.errors(include_url=False, include_input=False)[:5]
        )
        return _error(400, f"Invalid request: {problems}", "invalid_request")
    if isinstance(exc, NotFoundError):
        return _error(404, str(exc) or "Not found", "not_found")
    return None


async def _read_body(receive: Receive) -> bytes:
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(parts)


async def _answer(send: Send, status: int, body: bytes, media_type: str = "application/json") -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", media_type.encode())]})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def chatkit_server_app(server: Any, context: Any, path: str) -> ASGIApp:
    """An ASGI callable serving `server`'s protocol at `path` (POST), passing `context` to every request.

    >>> app = chatkit_server_app(LocalChatKitServer(), RequestContext(), "/chatkit")  # doctest: +SKIP
    """
    from chatkit.server import StreamingResult

    async def app(scope: Any, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] != path:
            status, body = _error(
                404, f"ChatKit(server=...) serves only {path}; test HTTP routes such as uploads with app=", "not_found"
            )
            await _answer(send, status, body)
            return
        if scope["method"] != "POST":
            await _answer(send, *_error(405, f"{path} takes POST", "method_not_allowed"))
            return
        request = await _read_body(receive)
        try:
            result = await server.process(request, context)
        except Exception as exc:
            known = _known_error(exc)
            if known is None:
                raise
            await _answer(send, *known)
            return
        if not isinstance(result, StreamingResult):
            await _answer(send, 200, result.json)
            return
        events: AsyncIterator[bytes] = aiter(result.json_events)
        try:
            first = await anext(events, None)
        except Exception as exc:
            known = _known_error(exc)
            if known is None:
                raise
            await _answer(send, *known)
            return
        start: Message = {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache")],
        }
        await send(start)
        try:
            if first is not None:
                await send({"type": "http.response.body", "body": first, "more_body": True})
                async for chunk in events:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
        finally:
            # Closing the generator runs the server's own clean-up when the stream ends early.
            await result.json_events.aclose()
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    return app
